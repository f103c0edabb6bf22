package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/store"
)

// TestJournalJail runs a backend = systemd jail on a stand-in journalctl
// (first in PATH) that prints three entries and waits: the entries reach the
// filter with their own time, lead to a ban, and the last cursor is saved.
func TestJournalJail(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	record := filepath.Join(dir, "record")
	usec := time.Now().UnixMicro()
	var entries strings.Builder
	for i := range 3 {
		fmt.Fprintf(&entries, `{"__CURSOR":"c%d","__REALTIME_TIMESTAMP":"%d","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"sshd","_PID":"42","MESSAGE":"Failed password for root from 192.0.2.77 port 22 ssh2"}`+"\n", i, usec+int64(i))
	}
	files := map[string]string{
		"bin/journalctl":       "#!/bin/sh\ncat <<'END'\n" + entries.String() + "END\nexec sleep 3600\n",
		"filter.d/j.conf":      "[Definition]\nfailregex = sshd\\[\\d+\\]: Failed password for \\S+ from <HOST> port\n",
		"action.d/record.conf": "[Definition]\nactionban = echo ban <ip> >> " + record + "\n",
		"jail.conf":            "[j]\nenabled = true\nfilter = j\nbackend = systemd\nmaxretry = 3\nignoreself = false\naction = record\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cfg, err := config.Load(os.DirFS(dir), config.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "w.db")
	srv, err := New(Options{Config: cfg, DBPath: db, Socket: filepath.Join(dir, "w.sock"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notify: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	waitUntil(t, "the journal jail bans 192.0.2.77", func() bool {
		b, _ := os.ReadFile(record)
		return string(b) == "ban 192.0.2.77\n"
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := srv.byName["j"].tracker.Stats()
	if st.Failures != 3 {
		t.Errorf("failures = %d, want 3", st.Failures)
	}
	sto, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sto.Close()
	if cur, ok, err := sto.JournalCursor(context.Background(), "j"); err != nil || !ok || cur != "c2" {
		t.Errorf("saved cursor = %q, %v, %v; want c2", cur, ok, err)
	}
}
