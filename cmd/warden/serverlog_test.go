package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/logfmt"
)

// lockedBuffer is a bytes.Buffer safe for the flush timer's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServerLogBuffered(t *testing.T) {
	tests := []struct {
		name   string
		log    func(l *slog.Logger)
		atOnce []string // written before any flush
		later  []string // written only by the timer or flush
	}{
		{"info waits", func(l *slog.Logger) { l.Info("reload done", "ip", "192.0.2.1") }, nil, []string{"INFO    reload done ip=192.0.2.1"}},
		{"warning flushes what came before", func(l *slog.Logger) {
			l.Info("reload done", "ip", "192.0.2.1")
			l.With("jail", "sshd").Warn("odd")
		}, []string{"INFO    reload done ip=192.0.2.1", "WARNING odd jail=sshd"}, nil},
		{"debug filtered", func(l *slog.Logger) { l.Debug("noise") }, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out lockedBuffer
			log, flush, err := serverLogger(&out, "text", config.Server{LogLevel: "INFO"})
			if err != nil {
				t.Fatal(err)
			}
			tt.log(log)
			got := out.String()
			for _, w := range tt.atOnce {
				if !strings.Contains(got, w) {
					t.Errorf("before flush: %q lacks %q", got, w)
				}
			}
			for _, w := range tt.later {
				if strings.Contains(got, w) {
					t.Errorf("before flush: %q already has %q", got, w)
				}
			}
			// The timer writes pending lines within logFlushEvery.
			deadline := time.Now().Add(5 * time.Second)
			for _, w := range tt.later {
				for !strings.Contains(out.String(), w) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if !strings.Contains(out.String(), w) {
					t.Errorf("timer never wrote %q", w)
				}
			}
			_ = flush.Flush()
			if strings.Contains(out.String(), "noise") {
				t.Errorf("debug line logged at INFO: %q", out.String())
			}
		})
	}
}

// TestServerLogTargets checks the layout, level and stamping that
// fail2ban.conf's loglevel and logtarget choose, and the syslog priority
// prefix on systemd's journal stream (SYSLOG: serverlog_syslog_test.go).
func TestServerLogTargets(t *testing.T) {
	stamped := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} fail2ban\.actions {8}\[\d+\]: NOTICE  \[sshd\] Ban 192\.0\.2\.1\n$`)
	bare := regexp.MustCompile(`^fail2ban\.actions {8}\[\d+\]: NOTICE  \[sshd\] Ban 192\.0\.2\.1\n$`)
	journal := regexp.MustCompile(`^<5>fail2ban\.actions {8}\[\d+\]: NOTICE  \[sshd\] Ban 192\.0\.2\.1\n$`)
	json := regexp.MustCompile(`^\{"time":"[^"]+","level":"NOTICE","msg":"ban","jail":"sshd","prefix":"192.0.2.1/32"\}\n$`)
	tests := []struct {
		name, format, level, target string
		journal                     bool // JOURNAL_STREAM names the target
		want                        *regexp.Regexp
		wantInfo                    bool // an INFO line is written too
	}{
		{"file", "text", "INFO", "FILE", false, stamped, true},
		{"notice hides info", "text", "NOTICE", "FILE", false, stamped, false},
		{"warning hides the ban", "text", "WARNING", "FILE", false, nil, false},
		{"journal stream", "text", "INFO", "STDERR", true, journal, true},
		{"journal target on a terminal", "text", "NOTICE", "SYSTEMD-JOURNAL", false, bare, false},
		{"json", "json", "NOTICE", "FILE", false, json, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "warden.log")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var st syscall.Stat_t
			if err := syscall.Stat(path, &st); err != nil {
				t.Fatal(err)
			}
			env := func(k string) string {
				if k == "JOURNAL_STREAM" && tt.journal {
					return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
				}
				return ""
			}
			target := tt.target
			if target == "FILE" {
				target = path
			}
			log, flush, err := serverLoggerEnv(f, tt.format, config.Server{LogLevel: tt.level, LogTarget: target}, env)
			if err != nil {
				t.Fatal(err)
			}
			log.Log(context.Background(), logfmt.LevelNotice, logfmt.MsgBan, "jail", "sshd", "prefix", "192.0.2.1/32")
			_ = flush.Flush()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil && len(b) != 0 || tt.want != nil && !tt.want.Match(b) {
				t.Fatalf("ban line %q, want %v", b, tt.want)
			}
			log.Info("reload done")
			_ = flush.Flush()
			b2, _ := os.ReadFile(path)
			if got := len(b2) > len(b); got != tt.wantInfo {
				t.Errorf("INFO line written: %v, want %v (%q)", got, tt.wantInfo, b2[len(b):])
			}
		})
	}
}

// TestLogReopen: flushlogs on a stream writes out what is pending and says
// "flushed", as fail2ban does; a file is opened again by its path ("rolled
// over"; test/e2e's TestFlushLogsAfterRotate renames it first).
func TestLogReopen(t *testing.T) {
	var out bytes.Buffer
	log, buf, err := serverLogger(&out, "text", config.Server{LogLevel: "INFO", LogTarget: "STDERR"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("pending")
	if got, err := buf.Reopen(); got != "flushed" || err != nil || !strings.Contains(out.String(), "pending") {
		t.Errorf("stream: Reopen = %q, %v; written %q", got, err, out.String())
	}
	path := filepath.Join(t.TempDir(), "w.log")
	log, buf, err = serverLogger(&out, "text", config.Server{LogLevel: "INFO", LogTarget: path})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("first")
	if err := os.Remove(path); err != nil { // as if rotated away
		t.Fatal(err)
	}
	if got, err := buf.Reopen(); got != "rolled over" || err != nil {
		t.Errorf("file: Reopen = %q, %v", got, err)
	}
	log.Info("second")
	_ = buf.Flush()
	if b, err := os.ReadFile(path); err != nil || !strings.Contains(string(b), "second") || strings.Contains(string(b), "first") {
		t.Errorf("the reopened file: %q, %v; want the second line only", b, err)
	}
}

// TestServerLoggerBadFormat: an unknown --log-format is refused before
// the target is opened, whatever the target.
func TestServerLoggerBadFormat(t *testing.T) {
	dir := t.TempDir()
	for _, target := range []string{"STDERR", filepath.Join(dir, "server.log"), "SYSLOG"} {
		_, _, err := serverLoggerEnv(io.Discard, "xml", config.Server{LogTarget: target, SyslogSocket: filepath.Join(dir, "none")},
			func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), `--log-format "xml"`) {
			t.Errorf("target %s: err = %v, want the format refused", target, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "server.log")); !os.IsNotExist(err) {
		t.Errorf("the log file was made for a refused format: %v", err)
	}
}
