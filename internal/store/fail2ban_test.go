package store

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// dumpStore renders everything in s as sorted text lines, for golden files.
func dumpStore(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []struct{ title, sql string }{
		{"jails", `SELECT name, enabled FROM jails ORDER BY name`},
		{"bans", `SELECT jail, prefix, time, bantime FROM bans ORDER BY jail, prefix`},
		{"history", `SELECT jail, prefix, time, bantime, count, failures, data FROM history ORDER BY jail, prefix`},
		{"logs", `SELECT jail, path, inode, hash, offset FROM logs ORDER BY jail, path`},
	} {
		fmt.Fprintf(&b, "# %s\n", q.title)
		rows, err := s.db.Query(q.sql)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = fmt.Sprintf("%v", v)
			}
			b.WriteString(strings.Join(parts, " | ") + "\n")
		}
		rows.Close()
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "import", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// fail2banPython runs script with the Debian-packaged python3, which can
// import fail2ban, skipping the test when it cannot.
func fail2banPython(t *testing.T, script string, args ...string) {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import fail2ban.server.database").Run(); err != nil {
		t.Skipf("fail2ban's python modules not available: %v", err)
	}
	out, err := exec.Command(py, append([]string{"-c", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

// makeV4 writes a fail2ban database of the current schema (4) with
// fail2ban's own code: a few bans, a non-IP identifier and a second jail.
func makeV4(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "v4.sqlite3")
	fail2banPython(t, `
import sys
from fail2ban.server.database import Fail2BanDb
from fail2ban.server.ticket import BanTicket
from fail2ban.tests.dummyjail import DummyJail
db = Fail2BanDb(sys.argv[1])
sshd, web = DummyJail(name="sshd"), DummyJail(name="nginx")
db.addJail(sshd); db.addJail(web)
def ban(jail, ip, when, bantime, count, failures, matches):
	t = BanTicket(ip, when, matches)
	t.setBanTime(bantime); t.setBanCount(count); t.setAttempt(failures)
	db.addBan(jail, t)
ban(sshd, "192.0.2.10", 1699990000, 600, 1, 3, ["old a"])
ban(sshd, "192.0.2.10", 1699999000, 3600, 2, 5, ["line a", "line b"])
ban(sshd, "2001:db8::5", 1700000100, -1, 1, 1, ["v6"])
ban(sshd, "10.9.0.0/16", 1699000000, 600, 4, 2, [])
ban(web, "192.0.2.10", 1699999500, 60, 1, 2, ["GET /wp-login.php"])
ban(web, "user@example.org", 1699999500, 60, 1, 2, ["raw id"])
db.close()
`, path)
	return path
}

// makeUpgraded lets fail2ban upgrade a copy of its v2 sample to schema 4,
// which marks the ban times unknown (-2).
func makeUpgraded(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "upgraded.sqlite3")
	copyFile(t, fail2banSample(t, "database_v2.db"), path)
	fail2banPython(t, `
import sys
from fail2ban.server.database import Fail2BanDb
Fail2BanDb(sys.argv[1]).close()
`, path)
	return path
}

// makeV3 builds a schema-3 file by hand: repeated bans of one address, an
// unreadable data member and a non-address identifier.
func makeV3(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "v3.sqlite3")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE fail2banDb(version INTEGER)`,
		`INSERT INTO fail2banDb VALUES(3)`,
		`CREATE TABLE jails(name TEXT NOT NULL UNIQUE, enabled INTEGER NOT NULL DEFAULT 1)`,
		`CREATE TABLE logs(jail TEXT NOT NULL, path TEXT, firstlinemd5 TEXT, lastfilepos INTEGER DEFAULT 0)`,
		`CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL, bantime INTEGER NOT NULL,
			bancount INTEGER NOT NULL DEFAULT 1, data JSON)`,
		`INSERT INTO jails VALUES('sshd', 1)`,
		`INSERT INTO logs VALUES('sshd', '/var/log/auth.log', 'abc', 77), ('sshd', 'systemd-journal', '2023', 5)`,
		`INSERT INTO bans VALUES
			('sshd', '198.51.100.1', 1699990000, -2, 1, '{"matches": ["first"], "failures": 2}'),
			('sshd', '198.51.100.1', 1699995000, 600, 1, '{"matches": [["multi ", "line"]], "failures": 4}'),
			('sshd', '198.51.100.1', 1699999900, 600, 1, '{"matches": ["third"], "failures": 5}'),
			('sshd', '198.51.100.2', 1699999900, 600, 1, '{not json'),
			('sshd', 'somehost', 1699999900, 600, 1, NULL)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return path
}

func TestImportFail2ban(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		src       func(t *testing.T) string
		now       time.Time
		positions bool
		want      ImportStats // Skipped compared by count
		skipped   int
	}{
		{"v1", func(t *testing.T) string { return fail2banSample(t, "database_v1.db") }, t0, true,
			ImportStats{Version: 1, Jails: 1, History: 1, Positions: 3}, 0},
		{"v1-recent", func(t *testing.T) string { return fail2banSample(t, "database_v1.db") },
			time.Unix(1388009242+60, 0), false, ImportStats{Version: 1, Jails: 1, History: 1, Active: 1}, 0},
		{"v2", func(t *testing.T) string { return fail2banSample(t, "database_v2.db") }, t0, true,
			ImportStats{Version: 2, Jails: 1, History: 2, Positions: 1}, 0},
		{"v2-recent", func(t *testing.T) string { return fail2banSample(t, "database_v2.db") },
			time.Unix(1417596235+60, 0), false, ImportStats{Version: 2, Jails: 1, History: 2, Active: 1}, 0},
		{"v3", makeV3, t0, true, ImportStats{Version: 3, Jails: 1, History: 2, Active: 2, Positions: 1}, 3},
		{"v4", makeV4, t0, false, ImportStats{Version: 4, Jails: 2, History: 4, Active: 2}, 1},
		{"v2-upgraded-by-fail2ban", makeUpgraded, time.Unix(1417596235+60, 0), false,
			ImportStats{Version: 4, Jails: 1, History: 2, Active: 1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src(t)
			before, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			s := openTest(t, Options{})
			st, err := s.ImportFail2ban(ctx, src, ImportOptions{Now: tc.now, Positions: tc.positions})
			if err != nil {
				t.Fatal(err)
			}
			skipped := st.Skipped
			st.Skipped = nil
			if !reflect.DeepEqual(st, tc.want) || len(skipped) != tc.skipped {
				t.Fatalf("stats %+v skipped %q,\nwant %+v and %d skipped", st, skipped, tc.want, tc.skipped)
			}
			dump := dumpStore(t, s)
			golden(t, tc.name, dump)

			// Importing again changes nothing.
			if _, err := s.ImportFail2ban(ctx, src, ImportOptions{Now: tc.now, Positions: tc.positions}); err != nil {
				t.Fatal(err)
			}
			if again := dumpStore(t, s); again != dump {
				t.Errorf("second import changed the store:\n%s", again)
			}
			// The source file is left as it was.
			if after, _ := os.ReadFile(src); string(after) != string(before) {
				t.Error("import modified the fail2ban database")
			}
		})
	}
}

func TestImportKeepsNewerWardenBans(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	p := pfx("1.2.3.7")
	mine := Ban{Jail: "pam-generic", Prefix: p, Time: time.Unix(1417596000, 0), BanTime: time.Hour, Count: 9}
	if err := s.AddBans(ctx, []Ban{mine}); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1417596235+60, 0)
	if _, err := s.ImportFail2ban(ctx, fail2banSample(t, "database_v2.db"), ImportOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	h, err := s.BanHistory(ctx, p, "pam-generic")
	if err != nil || h.Count != 9 {
		t.Fatalf("warden's newer history was overwritten: %+v %v", h, err)
	}
	jails, _ := s.Jails(ctx)
	if len(jails) != 1 || !jails[0].Enabled {
		t.Fatalf("an existing jail's enabled flag must be kept: %v", jails)
	}
	got, err := s.ActiveBans(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Time.Equal(mine.Time) || got[0].Count != 9 {
		t.Fatalf("active bans %+v", got)
	}
}

func TestImportRejectsOtherFiles(t *testing.T) {
	s := openTest(t, Options{})
	for name, content := range map[string][]byte{
		"garbage": []byte("not sqlite"),
		"empty":   nil,
	} {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportFail2ban(context.Background(), p, ImportOptions{}); err == nil ||
			!strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
	// A warden database is not a fail2ban one either.
	if _, err := s.ImportFail2ban(context.Background(), s.Path(), ImportOptions{}); err == nil {
		t.Error("importing a warden database succeeded")
	}
}
