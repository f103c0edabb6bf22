package server

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"warden/internal/logfmt"
)

// textLog is a server log file in fail2ban's text layout (as `warden
// server` writes it), for tests that read what the server logged.
type textLog struct {
	t    *testing.T
	path string
	out  *os.File // the server's, open for appending
}

// newTextLog creates the log file at path (empty: a jail may read it,
// as recidive does) and returns it with a logger writing to it.
func newTextLog(t *testing.T, path string) (*textLog, *slog.Logger) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	return &textLog{t: t, path: path, out: out}, slog.New(logfmt.New(out, logfmt.Options{}))
}

// read returns the log so far.
func (l *textLog) read() string {
	b, err := os.ReadFile(l.path)
	if err != nil {
		l.t.Fatal(err)
	}
	return string(b)
}

// wait waits up to 10 s for n occurrences of what in the log and
// returns the log then.
func (l *textLog) wait(what string, n int) string {
	l.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := l.read()
		if strings.Count(s, what) >= n {
			return s
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("no %d× %q in the server log:\n%s", n, what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
