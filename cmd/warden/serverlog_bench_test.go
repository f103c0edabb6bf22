package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/logfmt"
)

// BenchmarkServerLogFlood writes a flood's 100,000 ban lines to a log file
// through the server's logger (buffered, fail2ban's layout), as the ban
// manager hands them over, against slog's TextHandler on the same buffer
// (the text format before fail2ban's layout), and to a syslog socket.
// Reports ns and allocations a line.
func BenchmarkServerLogFlood(b *testing.B) {
	const lines = 100_000
	for _, bc := range []struct {
		name string
		make func(b *testing.B, path string) (*slog.Logger, func())
	}{
		{"fail2ban", func(b *testing.B, path string) (*slog.Logger, func()) {
			log, flush, err := serverLoggerEnv(os.Stderr, "text", config.Server{LogLevel: "INFO", LogTarget: path}, func(string) string { return "" })
			if err != nil {
				b.Fatal(err)
			}
			return log, func() { _ = flush.Flush() }
		}},
		// To a syslog daemon that reads everything (a goroutine
		// draining the socket, which shares the CPU), and to one that
		// reads nothing (its queue fills, then records are dropped).
		{"syslog", func(b *testing.B, path string) (*slog.Logger, func()) { return benchSyslog(b, path, true) }},
		{"syslog-full", func(b *testing.B, path string) (*slog.Logger, func()) { return benchSyslog(b, path, false) }},
		{"slogtext", func(b *testing.B, path string) (*slog.Logger, func()) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			buf := newLogBuffer(f, logFlushEvery)
			return slog.New(flushOnWarn{Handler: slog.NewTextHandler(buf, nil), buf: buf}), func() { _ = buf.Flush(); f.Close() }
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			prefixes := make([]string, 256)
			for i := range prefixes {
				prefixes[i] = "192.0.2." + string(rune('0'+i%10)) + "/32"
			}
			b.ReportAllocs()
			for b.Loop() {
				path := filepath.Join(b.TempDir(), "warden.log")
				log, flush := bc.make(b, path)
				h := log.With("jail", "sshd").Handler()
				for i := range lines {
					r := slog.NewRecord(time.Now(), logfmt.LevelNotice, logfmt.MsgBan, 0)
					r.AddAttrs(slog.String("prefix", prefixes[i%len(prefixes)]), slog.Duration("bantime", time.Hour), slog.Int64("count", 1))
					_ = h.Handle(ctx, r)
				}
				flush()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
		})
	}
}

// benchSyslog is the server's logger with logtarget = SYSLOG, to a
// socket in path's directory; drain: a goroutine reads the socket.
func benchSyslog(b *testing.B, path string, drain bool) (*slog.Logger, func()) {
	sock := filepath.Join(filepath.Dir(path), "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	if drain {
		go func() {
			defer close(done)
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	} else {
		close(done)
	}
	log, sink, err := serverLoggerEnv(os.Stderr, "text", config.Server{LogLevel: "INFO", LogTarget: "SYSLOG", SyslogSocket: sock}, func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	w := sink.(*syslogWriter)
	return log, func() {
		_ = w.Flush() // as the server does at its stop
		_ = w.Close()
		b.ReportMetric(float64(w.Dropped()), "dropped")
		c.Close()
		<-done
	}
}
