package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"warden/internal/store"
)

func TestImportFail2banCmd(t *testing.T) {
	const samples = "/usr/lib/python3/dist-packages/fail2ban/tests/files"
	if _, err := os.Stat(samples); err != nil {
		t.Skipf("fail2ban sample databases missing: %v", err)
	}
	db := filepath.Join(t.TempDir(), "sub", "warden.db")
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		jailsNow int
	}{
		{"v1", []string{filepath.Join(samples, "database_v1.db"), "--db", db, "--positions"}, 0,
			"(fail2ban schema 1) into " + db + ": 1 jails, 1 history entries, 0 active bans, 3 log positions, 0 skipped", "", 1},
		{"v2", []string{filepath.Join(samples, "database_v2.db"), "--db", db}, 0,
			"(fail2ban schema 2) into " + db + ": 1 jails, 2 history entries, 0 active bans, 0 log positions, 0 skipped", "", 2},
		{"missing file", []string{filepath.Join(samples, "no-such.db"), "--db", db}, 1,
			"", "no-such.db", 2},
		{"no args", []string{"--db", db}, 1, "", "accepts 1 arg", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out, _ := os.Create(filepath.Join(dir, "out"))
			errf, _ := os.Create(filepath.Join(dir, "err"))
			code := run(context.Background(), append([]string{"warden", "import-fail2ban"}, tc.args...),
				os.Stdin, out, errf)
			stdout, _ := os.ReadFile(out.Name())
			stderr, _ := os.ReadFile(errf.Name())
			if code != tc.code || !strings.Contains(string(stdout), tc.stdout) || !strings.Contains(string(stderr), tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
			}
			s, err := store.Open(context.Background(), db, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			jails, err := s.Jails(context.Background())
			if err != nil || len(jails) != tc.jailsNow {
				t.Fatalf("jails in the database: %v %v, want %d", jails, err, tc.jailsNow)
			}
		})
	}
}
