package store

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// t0 is a fixed "now" for tests; times are whole seconds as stored.
var t0 = time.Unix(1_700_000_000, 0)

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "warden.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pfx(s string) netip.Prefix {
	p, err := parsePrefixText(s)
	if err != nil {
		panic(err)
	}
	return p
}

func TestOpenCreatesSchemaAndPragmas(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() || v < 2 {
		t.Fatalf("user_version %d, want %d", v, SchemaVersion())
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode %q, want wal", mode)
	}
	var ps int
	if err := s.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&ps); err != nil || ps != pageSize {
		t.Errorf("page_size %d (%v), want %d", ps, err, pageSize)
	}
	var fk, busy int
	if err := s.db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if fk != 1 || busy != int(DefaultBusyTimeout.Milliseconds()) {
		t.Errorf("foreign_keys=%d busy_timeout=%d", fk, busy)
	}
	if s.Recovered() != nil {
		t.Errorf("fresh database reported recovery %v", s.Recovered())
	}
	// Reopening an existing, current database is a no-op.
	path := s.Path()
	s.Close()
	s2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

func TestOpenRefusesForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	copyFile(t, fail2banSample(t, "database_v2.db"), path)
	_, err := Open(context.Background(), path, Options{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open(fail2ban db) = %v, want ErrInvalid", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("foreign file must be left in place: %v", err)
	}
}

func TestPositionsAndCursors(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	if _, ok, err := s.LogPosition(ctx, "sshd", "/var/log/auth.log"); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	want := []Position{
		{Path: "/var/log/auth.log", Inode: 1<<63 + 5, Hash: "md5:abc", Offset: 4096},
		{Path: "/var/log/secure", Inode: 7, Hash: "", Offset: 0},
	}
	for _, p := range want {
		if err := s.SetLogPosition(ctx, "sshd", p); err != nil {
			t.Fatal(err)
		}
	}
	// Overwrite the first one.
	want[0].Offset, want[0].Inode = 8192, 99
	if err := s.SetLogPosition(ctx, "sshd", want[0]); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LogPosition(ctx, "sshd", want[0].Path)
	if err != nil || !ok || got != want[0] {
		t.Fatalf("LogPosition = %+v %v %v, want %+v", got, ok, err, want[0])
	}
	all, err := s.LogPositions(ctx, "sshd")
	if err != nil || !slices.Equal(all, want) {
		t.Fatalf("LogPositions = %+v %v, want %+v", all, err, want)
	}
	if _, ok, _ := s.LogPosition(ctx, "other", want[0].Path); ok {
		t.Fatal("position leaked to another jail")
	}
	if err := s.SetLogPosition(ctx, "sshd", Position{Path: "x", Offset: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative offset: %v", err)
	}

	if _, ok, err := s.JournalCursor(ctx, "sshd"); ok || err != nil {
		t.Fatalf("empty cursor: ok=%v err=%v", ok, err)
	}
	for _, c := range []string{"s=1;i=2", "s=1;i=3"} {
		if err := s.SetJournalCursor(ctx, "sshd", c); err != nil {
			t.Fatal(err)
		}
	}
	if c, ok, err := s.JournalCursor(ctx, "sshd"); c != "s=1;i=3" || !ok || err != nil {
		t.Fatalf("JournalCursor = %q %v %v", c, ok, err)
	}
}

func TestSyncJails(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	if err := s.SyncJails(ctx, []string{"sshd", "nginx"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncJails(ctx, []string{"sshd", "postfix"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Jails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Jail{{"nginx", false}, {"postfix", true}, {"sshd", true}}
	if !slices.Equal(got, want) {
		t.Fatalf("Jails = %v, want %v", got, want)
	}
	if err := s.SyncJails(ctx, []string{""}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
}

// fail2banSample returns the path of one of the sample databases Debian's
// fail2ban package ships, skipping the test when it is not installed.
func fail2banSample(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("/usr/lib/python3/dist-packages/fail2ban/tests/files", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fail2ban sample database missing (apt-get install fail2ban): %v", err)
	}
	return p
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "warden.db")
	_, err := Open(context.Background(), path, Options{})
	if err == nil || errors.Is(err, ErrReadOnly) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open in a missing directory = %v, want a not-exist error", err)
	}
}

func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dir with space")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "we?ird#name%41&mode=ro.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetJournalCursor(context.Background(), "sshd", "c"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
		t.Fatalf("files in %s: %v, want only %s", dir, entries, filepath.Base(path))
	}
}

// TestConnectionPragmas: every pooled connection runs with the settings
// dsn promises (two connections held at once, so both are looked at).
func TestConnectionPragmas(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	want := []struct {
		pragma string
		value  int
	}{
		{"foreign_keys", 1},
		{"synchronous", 1}, // NORMAL
		{"cache_size", -512},
		{"temp_store", 2}, // MEMORY
	}
	for i := range 2 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, w := range want {
			var got int
			if err := c.QueryRowContext(ctx, "PRAGMA "+w.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != w.value {
				t.Errorf("connection %d: PRAGMA %s = %d, want %d", i, w.pragma, got, w.value)
			}
		}
	}
}
