package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/logfmt"
)

// syslogRecord is one record logged to the server's logger, with the
// logger name, Python level number and message fail2ban would log it
// with, and the priority (facility DAEMON) it must carry.
type syslogRecord struct {
	name  string
	log   func(*slog.Logger)
	comp  string
	pyLvl int
	level string
	msg   string
	pri   int
}

// syslogRecords covers every level, fail2ban's events and warden's own.
func syslogRecords() []syslogRecord {
	ctx := context.Background()
	failed := time.Date(2026, 11, 28, 5, 0, 1, 0, time.Local)
	return []syslogRecord{
		{"ban", func(l *slog.Logger) {
			l.Log(ctx, logfmt.LevelNotice, logfmt.MsgBan, "jail", "sshd", "prefix", "192.0.2.1/32")
		}, "fail2ban.actions", 25, "NOTICE", "[sshd] Ban 192.0.2.1", 29},
		{"unban v6", func(l *slog.Logger) {
			l.Log(ctx, logfmt.LevelNotice, logfmt.MsgUnban, "jail", "postfix-sasl", "prefix", "2001:db8::1/128")
		}, "fail2ban.actions", 25, "NOTICE", "[postfix-sasl] Unban 2001:db8::1", 29},
		{"found", func(l *slog.Logger) {
			l.With("jail", "sshd").Info(logfmt.MsgFound, "id", "192.0.2.7", "failed", failed)
		}, "fail2ban.filter", 20, "INFO", "[sshd] Found 192.0.2.7 - 2026-11-28 05:00:01", 30},
		{"jail started", func(l *slog.Logger) {
			l.Info(logfmt.MsgJailStarted, "jail", "sshd")
		}, "fail2ban.jail", 20, "INFO", "Jail 'sshd' started", 30},
		{"debug", func(l *slog.Logger) { l.Debug("tick") }, "fail2ban.server", 10, "DEBUG", "tick", 31},
		{"warning", func(l *slog.Logger) { l.Warn("database busy") }, "fail2ban.server", 30, "WARNING", "database busy", 28},
		{"error", func(l *slog.Logger) { l.Error("cannot ban") }, "fail2ban.server", 40, "ERROR", "cannot ban", 27},
		{"critical", func(l *slog.Logger) {
			l.Log(ctx, slog.LevelError+4, "out of memory")
		}, "fail2ban.server", 50, "CRITICAL", "out of memory", 26},
		{"utf-8", func(l *slog.Logger) { l.Info("übung") }, "fail2ban.server", 20, "INFO", "übung", 30},
	}
}

// listenSyslog is a syslog daemon's socket in a temporary directory.
func listenSyslog(t *testing.T) (path string, c *net.UnixConn) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return path, c
}

// readDatagrams reads n messages from c.
func readDatagrams(t *testing.T, c *net.UnixConn, n int) []string {
	t.Helper()
	var got []string
	b := make([]byte, 64<<10)
	for range n {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := c.Read(b)
		if err != nil {
			t.Fatalf("after %d messages: %v", len(got), err)
		}
		got = append(got, string(b[:k]))
	}
	return got
}

// syslogLogger is the server's logger for target, logging to sock.
func syslogLogger(t *testing.T, format, target, sock string, stderr *bytes.Buffer) (*slog.Logger, logSink) {
	t.Helper()
	log, sink, err := serverLoggerEnv(stderr, format, config.Server{LogLevel: "DEBUG", LogTarget: target, SyslogSocket: sock},
		func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := sink.(interface{ Close() error }); ok {
		t.Cleanup(func() { _ = c.Close() })
	}
	return log, sink
}

// TestSyslogDatagrams: each record is one message, "<PRI>", fail2ban's
// SYSLOG layout (no time, no padding) and a NUL, PRI being DAEMON*8 and
// the level's priority.
func TestSyslogDatagrams(t *testing.T) {
	path, c := listenSyslog(t)
	var stderr bytes.Buffer
	log, _ := syslogLogger(t, "text", "SYSLOG", path, &stderr)
	pid := os.Getpid()
	for _, r := range syslogRecords() {
		t.Run(r.name, func(t *testing.T) {
			r.log(log)
			want := fmt.Sprintf("<%d>%s[%d]: %s %s\x00", r.pri, r.comp, pid, r.level, r.msg)
			if got := readDatagrams(t, c, 1)[0]; got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %q", stderr.String())
	}
}

// TestSyslogTargetOptions: SYSLOG[...]'s facility, padding and datetime,
// the JSON format's priority, and what is not understood.
func TestSyslogTargetOptions(t *testing.T) {
	ban := func(l *slog.Logger) {
		l.Log(context.Background(), logfmt.LevelNotice, logfmt.MsgBan, "jail", "sshd", "prefix", "192.0.2.1/32")
	}
	pid := fmt.Sprint(os.Getpid())
	tests := []struct {
		name, format, target string
		log                  func(*slog.Logger)
		want                 string // "PID" stands for the pid; a trailing "*" for any text
		warn                 string // on stderr
	}{
		{"auth", "text", "SYSLOG[facility=AUTH]", ban, "<37>fail2ban.actions[PID]: NOTICE [sshd] Ban 192.0.2.1\x00", ""},
		{"local7 lower case", "text", "syslog[facility=local7]", ban, "<189>fail2ban.actions[PID]: NOTICE [sshd] Ban 192.0.2.1\x00", ""},
		{"padding", "text", "SYSLOG[padding=on]", ban, "<29>fail2ban.actions        [PID]: NOTICE  [sshd] Ban 192.0.2.1\x00", ""},
		{"datetime", "text", "SYSLOG[datetime=yes]", ban, "<29>20*", ""},
		{"bad facility", "text", "SYSLOG[facility=nosuch]", ban, "<29>fail2ban.actions[PID]: NOTICE [sshd] Ban 192.0.2.1\x00", `unknown facility \"nosuch\"`},
		{"json notice", "json", "SYSLOG", ban, `<29>{"time":*`, ""},
		{"json warning", "json", "SYSLOG", func(l *slog.Logger) { l.Warn("x") }, `<28>{"time":*`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, c := listenSyslog(t)
			var stderr bytes.Buffer
			log, _ := syslogLogger(t, tt.format, tt.target, path, &stderr)
			if tt.warn != "" {
				// The warning is the first message, to syslog.
				if got := readDatagrams(t, c, 1)[0]; !strings.Contains(got, tt.warn) || !strings.HasPrefix(got, "<28>") {
					t.Errorf("warning %q, want one with %q", got, tt.warn)
				}
			}
			tt.log(log)
			got := readDatagrams(t, c, 1)[0]
			want := strings.ReplaceAll(tt.want, "PID", pid)
			if p, ok := strings.CutSuffix(want, "*"); ok {
				if !strings.HasPrefix(got, p) || !strings.HasSuffix(got, "\x00") || strings.Contains(got, "\n") {
					t.Errorf("got %q, want %q...NUL", got, p)
				}
			} else if got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

// TestSyslogFallback: a syslogsocket that is missing or not a socket
// leaves the log on stderr, as fail2ban keeps its previous target, with
// a warning that says why.
func TestSyslogFallback(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sock := range []string{filepath.Join(dir, "missing"), file} {
		t.Run(filepath.Base(sock), func(t *testing.T) {
			var stderr bytes.Buffer
			log, sink := syslogLogger(t, "text", "SYSLOG", sock, &stderr)
			log.Log(context.Background(), logfmt.LevelNotice, logfmt.MsgBan, "jail", "sshd", "prefix", "192.0.2.1/32")
			_ = sink.Flush()
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], "WARNING") || !strings.Contains(lines[0], sock) ||
				!strings.HasSuffix(lines[1], "]: NOTICE [sshd] Ban 192.0.2.1") {
				t.Errorf("stderr %q: want the warning, then the ban in the SYSLOG layout", stderr.String())
			}
		})
	}
}

// TestSyslogStream: a stream socket at syslogsocket is written to as
// Python falls back to it: the same bytes, each record ending with NUL.
func TestSyslogStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var stderr bytes.Buffer
	log, _ := syslogLogger(t, "text", "SYSLOG", path, &stderr)
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	log.Info("one")
	log.Warn("two")
	want := fmt.Sprintf("<30>fail2ban.server[%d]: INFO one\x00<28>fail2ban.server[%[1]d]: WARNING two\x00", os.Getpid())
	got := make([]byte, len(want))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readFull(conn, got); err != nil || string(got) != want {
		t.Errorf("stream %q, %v; want %q", got, err, want)
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestSyslogNoBlock: a daemon that does not read, then one that is gone,
// neither blocks nor fails the logger: records are dropped and counted,
// reported on stderr, and the log comes back with a new daemon (after
// flushlogs, at once).
func TestSyslogNoBlock(t *testing.T) {
	path, c := listenSyslog(t)
	var stderr bytes.Buffer
	log, sink := syslogLogger(t, "text", "SYSLOG", path, &stderr)
	w := sink.(*syslogWriter)
	// More than the daemon's socket (max_dgram_qlen) and warden's queue
	// (syslogQueueMax) hold.
	const n = 5000
	pad := strings.Repeat("x", 2*syslogQueueMax/n)
	done := make(chan struct{})
	go func() {
		for i := range n {
			log.Info("flood", "i", i, "pad", pad)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the logger blocks on a daemon that does not read")
	}
	// The daemon reads now: what was queued arrives, in order.
	queued, next := 0, 0
	b := make([]byte, 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		k, err := c.Read(b)
		if err != nil {
			break
		}
		var i int
		if _, err := fmt.Sscanf(string(b[:k]), "<30>fail2ban.server[%d]: INFO flood i=%d", new(int), &i); err != nil || i < next {
			t.Fatalf("message %q (%v) after i=%d", b[:k], err, next-1)
		}
		next = i + 1
		queued++
	}
	if d := w.Dropped(); d == 0 || int(d)+queued != n {
		t.Errorf("dropped %d + queued %d, want %d in all, some dropped", d, queued, n)
	}

	// The daemon goes away.
	c.Close()
	_ = os.Remove(path)
	before := w.Dropped()
	start := time.Now()
	for range n {
		log.Info("nobody listens")
	}
	log.Error("still nobody")
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("%d records to a gone daemon took %v", n, el)
	}
	if got := w.Dropped() - before; got != n+1 {
		t.Errorf("dropped %d with the daemon gone, want %d", got, n+1)
	}

	// A new daemon at the same path; flushlogs retries at once.
	c2, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, err := sink.Reopen(); got != "flushed" || err != nil {
		t.Errorf("Reopen = %q, %v; want flushed", got, err)
	}
	log.Info("back")
	if got := readDatagrams(t, c2, 1)[0]; !strings.HasSuffix(got, "INFO back\x00") {
		t.Errorf("after the daemon came back: %q", got)
	}
	_ = sink.Flush()
	if !strings.Contains(stderr.String(), "log records dropped") {
		t.Errorf("stderr %q: no report of the dropped records", stderr.String())
	}
}

// syslogPython logs recs with fail2ban's own server (its setLogTarget
// builds Python's SysLogHandler and fail2ban's format) to sock and
// returns nothing: the caller reads the messages. pid replaces Python's.
const syslogPython = `
import json, logging, sys
from fail2ban.server.server import Server
sock, target, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = Server()
s.setSyslogSocket(sock)
s.setLogLevel("DEBUG")
if not s.setLogTarget(target):
    sys.exit("setLogTarget failed")
class Pid(logging.Filter):
    def filter(self, rec):
        rec.process = pid
        return True
for h in logging.getLogger("fail2ban").handlers:
    h.addFilter(Pid())
for comp, lvl, msg in json.load(sys.stdin):
    logging.getLogger(comp).log(lvl, msg)
`

// TestSyslogLikeFail2ban is the acid test: fail2ban's server, run by
// Python, logs the same records to a second socket; both daemons must
// receive the same bytes.
func TestSyslogLikeFail2ban(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("needs %s: %v", py, err)
	}
	if err := exec.Command(py, "-c", "import fail2ban.server.server").Run(); err != nil {
		t.Skipf("needs fail2ban's Python package: %v", err)
	}
	recs := syslogRecords()
	var in [][3]any
	for _, r := range recs {
		in = append(in, [3]any{r.comp, r.pyLvl, r.msg})
	}
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"SYSLOG", "SYSLOG[facility=AUTHPRIV]", "SYSLOG[facility=local3, padding=1]"} {
		t.Run(target, func(t *testing.T) {
			path, c := listenSyslog(t)
			var stderr bytes.Buffer
			log, _ := syslogLogger(t, "text", target, path, &stderr)
			for _, r := range recs {
				r.log(log)
			}
			got := readDatagrams(t, c, len(recs))

			pyPath, pyc := listenSyslog(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, "-c", syslogPython, pyPath, target, fmt.Sprint(os.Getpid()))
			cmd.Stdin = bytes.NewReader(input)
			cmd.Dir = t.TempDir()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
			want := readDatagrams(t, pyc, len(recs))
			for i := range recs {
				if got[i] != want[i] {
					t.Errorf("%s:\nwarden  %q\nfail2ban %q", recs[i].name, got[i], want[i])
				}
			}
			// Nothing more from fail2ban (a start message would be).
			_ = pyc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := pyc.Read(make([]byte, 512)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("python sent more: %v", err)
			}
		})
	}
}

// FuzzSyslogFrame: whatever a handler writes becomes one message that
// starts with a priority of the facility, ends with NUL and holds the
// record without its line end.
func FuzzSyslogFrame(f *testing.F) {
	for _, s := range []string{"<5>fail2ban.actions[1]: NOTICE [sshd] Ban 192.0.2.1\n", `{"time":"x","level":"WARN","msg":"m"}` + "\n", "", "<", "<9>x", "\n\n"} {
		f.Add([]byte(s))
	}
	w := &syslogWriter{facility: 3 << 3}
	f.Fuzz(func(t *testing.T, p []byte) {
		b := w.frame(nil, p)
		i := bytes.IndexByte(b, '>')
		if i < 0 || b[0] != '<' || b[len(b)-1] != 0 {
			t.Fatalf("frame(%q) = %q", p, b)
		}
		var pri int
		if _, err := fmt.Sscanf(string(b[1:i]), "%d", &pri); err != nil || pri>>3 != 3 {
			t.Fatalf("frame(%q) = %q: priority %d, %v", p, b, pri, err)
		}
		body := b[i+1 : len(b)-1]
		if !bytes.HasSuffix(bytes.TrimSuffix(p, []byte{'\n'}), body) {
			t.Fatalf("frame(%q) = %q: not the record's text", p, b)
		}
	})
}

// TestSyslogGoneReported: records dropped while the daemon is gone are
// reported on stderr as they are dropped (at most every
// syslogNoteEvery), not only at the server's stop.
func TestSyslogGoneReported(t *testing.T) {
	path, c := listenSyslog(t)
	c.Close() // the socket file stays: connecting is refused
	var stderr bytes.Buffer
	log, _ := syslogLogger(t, "text", "SYSLOG", path, &stderr)
	log.Info("nobody listens")
	log.Info("still nobody")
	if got := strings.Count(stderr.String(), "log records dropped"); got != 1 {
		t.Errorf("stderr %q: want one report of the dropped record before any Flush", stderr.String())
	}
}

// TestSyslogRestartedFull: a record that finds the daemon restarted
// with its queue already full waits in warden's queue, as any record
// the daemon cannot take yet, instead of being dropped.
func TestSyslogRestartedFull(t *testing.T) {
	path, c := listenSyslog(t)
	var stderr bytes.Buffer
	log, sink := syslogLogger(t, "text", "SYSLOG", path, &stderr)
	w := sink.(*syslogWriter)
	c.Close()
	_ = os.Remove(path)
	c2, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// Another client fills the new daemon's queue.
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	filled := 0
	for ; ; filled++ {
		if err := syscall.Sendto(fd, []byte("fill"), 0, nil); err == syscall.EAGAIN {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	log.Info("after the restart")
	if d := w.Dropped(); d != 0 {
		t.Fatalf("dropped %d (%q), want the record kept", d, stderr.String())
	}
	got := readDatagrams(t, c2, filled+1)
	if last := got[filled]; !strings.HasSuffix(last, "INFO after the restart\x00") {
		t.Errorf("last message %q", last)
	}
}
