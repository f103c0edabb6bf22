package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"warden/internal/control"
)

func TestConfiguredSocket(t *testing.T) {
	dir := t.TempDir()
	withSocket := filepath.Join(dir, "a")
	without := filepath.Join(dir, "b")
	for _, d := range []string{withSocket, without} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "jail.conf"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(withSocket, "fail2ban.conf"), []byte("[Definition]\nsocket = /tmp/x/f.sock\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withSocket, "fail2ban.local"), []byte("[Definition]\nsocket = /tmp/y/l.sock\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ conf, want string }{
		{withSocket, "/tmp/y/l.sock"}, // .local wins
		{without, control.DefaultSocket},
		{filepath.Join(dir, "missing"), control.DefaultSocket},
		{builtinConf, "/run/warden/warden.sock"},
	}
	for _, tt := range tests {
		if got := configuredSocket(tt.conf); got != tt.want {
			t.Errorf("configuredSocket(%q) = %q, want %q", tt.conf, got, tt.want)
		}
	}
}

func TestWritePidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "w.pid")
	remove, err := writePidFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("pid file %q, %v", b, err)
	}
	// A pid file another server wrote since is left alone.
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	remove()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("another process's pid file removed: %v", err)
	}
	remove, _ = writePidFile(path)
	remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("own pid file left: %v", err)
	}
	if remove, err := writePidFile(""); err != nil || remove == nil {
		t.Errorf("no pid file: %v", err)
	}
}
