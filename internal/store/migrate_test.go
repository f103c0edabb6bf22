package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawDB opens path without the store, for building old schemas.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestUpgradeFromV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	db := rawDB(t, path)
	from, to, err := migrate(ctx, db, migrations()[:1])
	if err != nil || from != 0 || to != 1 {
		t.Fatalf("build v1: %d→%d %v", from, to, err)
	}
	// Data as a v1 build wrote it.
	for _, q := range []string{
		`INSERT INTO jails(name, enabled) VALUES('sshd', 1), ('old', 0)`,
		`INSERT INTO bans(jail, prefix, time, bantime) VALUES('sshd', '192.0.2.7', 1700000000, -1)`,
		`INSERT INTO history(prefix, jail, time, bantime, count, failures, data)
			VALUES('192.0.2.7', 'sshd', 1700000000, -1, 4, 6, '{"matches":["m1","m2"]}'),
			      ('2001:db8::/48', 'old', 1690000000, 600, 2, 3, '{}')`,
		`INSERT INTO logs(jail, path, inode, hash, offset) VALUES('sshd', '/var/log/auth.log', 12, 'h', 345)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.ExecContext(ctx, `SELECT * FROM journals`); err == nil {
		t.Fatal("v1 already has the journals table; the test does not test an upgrade")
	}
	db.Close()

	var logBuf bytes.Buffer
	s, err := Open(ctx, path, Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := schemaVersion(ctx, s.db); v != SchemaVersion() {
		t.Fatalf("version after upgrade %d, want %d", v, SchemaVersion())
	}
	if !strings.Contains(logBuf.String(), "from=1") {
		t.Errorf("upgrade not logged: %q", logBuf.String())
	}
	got, err := s.ActiveBans(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	assertBans(t, got, []Ban{{Jail: "sshd", Prefix: pfx("192.0.2.7"), Time: t0, BanTime: -1,
		Count: 4, Failures: 6, Matches: []string{"m1", "m2"}}})
	if h, err := s.BanHistory(ctx, pfx("2001:db8::/48"), "old"); err != nil || h.Count != 2 {
		t.Fatalf("history after upgrade: %+v %v", h, err)
	}
	if p, ok, err := s.LogPosition(ctx, "sshd", "/var/log/auth.log"); err != nil || !ok || p.Offset != 345 {
		t.Fatalf("log position after upgrade: %+v %v %v", p, ok, err)
	}
	// The v2 table is there and usable.
	if err := s.SetJournalCursor(ctx, "sshd", "s=abc"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, path, Options{})
	if !errors.Is(err, ErrTooNew) {
		t.Fatalf("Open = %v, want ErrTooNew", err)
	}
	if _, statErr := os.Stat(path); statErr != nil {
		t.Fatalf("a newer database must not be moved aside: %v", statErr)
	}
}

func TestFailedMigrationStepRollsBack(t *testing.T) {
	ctx := context.Background()
	db := rawDB(t, filepath.Join(t.TempDir(), "warden.db"))
	defer db.Close()
	steps := append(migrations(), migration{name: "broken", sql: `CREATE TABLE x(a); INSERT INTO nope VALUES(1);`})
	_, reached, err := migrate(ctx, db, steps)
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("migrate = %v, want the broken step named", err)
	}
	if v, _ := schemaVersion(ctx, db); v != len(steps)-1 || reached != len(steps)-1 {
		t.Fatalf("version %d (reached %d), want %d", v, reached, len(steps)-1)
	}
	if _, err := db.ExecContext(ctx, `SELECT * FROM x`); err == nil {
		t.Fatal("half of the broken step was kept")
	}
}
