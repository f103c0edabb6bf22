package source

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newJournalT(t *testing.T, o JournalOptions) *Journal {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	if o.SaveInterval == 0 {
		o.SaveInterval = 10 * time.Millisecond
	}
	j, err := NewJournal(o)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// journalctlWrapper returns a journalctl stand-in that records its PID in
// pidfile before it becomes journalctl, so a test can kill it.
func journalctlWrapper(t *testing.T) (prog, pidfile string) {
	t.Helper()
	real, err := exec.LookPath("journalctl")
	if err != nil {
		t.Skip("journalctl not installed")
	}
	dir := t.TempDir()
	pidfile = filepath.Join(dir, "pids")
	prog = filepath.Join(dir, "journalctl")
	script := "#!/bin/sh\necho $$ >> " + pidfile + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, pidfile
}

func pids(t *testing.T, pidfile string) []int {
	b, _ := os.ReadFile(pidfile)
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// syncJournal writes marker entries until the source hands one on: a
// journalctl started with --lines=0 misses what was written before it
// reached the journal's end.
func syncJournal(t *testing.T, c *collector, ident string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for k := 0; ; k++ {
		jwrite(t, ident, "sync-"+strconv.Itoa(k)+"\n")
		for range 20 {
			if slices.ContainsFunc(c.texts(), func(s string) bool { return strings.Contains(s, ": sync-") }) {
				// Following now: a last marker flushes the others.
				jwrite(t, ident, "sync-end\n")
				waitFor(t, func() bool { ts := c.texts(); return strings.HasSuffix(ts[len(ts)-1], ": sync-end") },
					func() string { return "the last marker" })
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatal("the journal source never handed on a marker entry")
		}
	}
}

// withoutSync drops the marker lines and keeps each line's last word.
func withoutSync(lines []string) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, ": sync-") {
			out = append(out, l[strings.LastIndex(l, " ")+1:])
		}
	}
	return out
}

func TestJournalFollowMatchAndFormat(t *testing.T) {
	needJournald(t)
	sshd, other, unrelated := uniqueIdent(t, "sshd"), uniqueIdent(t, "alt"), uniqueIdent(t, "x")
	cur := &memCursors{}
	src := newJournalT(t, JournalOptions{
		Match:   []string{"SYSLOG_IDENTIFIER=" + sshd + " + SYSLOG_IDENTIFIER=" + other},
		Cursors: cur,
		Since:   time.Now().Add(-time.Second),
	})
	c := start(t, src)
	before := time.Now()
	jwrite(t, unrelated, "not for us\n")
	jwrite(t, sshd, "Failed password for root from 192.0.2.7 port 2222 ssh2\n")
	jwrite(t, other, "second \xff\xfe raw\n")
	c.waitCount(t, 2)
	settle()
	host, _ := os.Hostname()
	c.mu.Lock()
	lines := slices.Clone(c.lines)
	c.mu.Unlock()
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %q", len(lines), c.texts())
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(host) + ` ` + sshd + `\[\d+\]: Failed password for root from 192\.0\.2\.7 port 2222 ssh2$`)
	if !re.MatchString(lines[0].Text) {
		t.Errorf("line %q does not match %s", lines[0].Text, re)
	}
	if !strings.HasSuffix(lines[1].Text, "]: second \xff\xfe raw") {
		t.Errorf("binary message line %q", lines[1].Text)
	}
	for _, l := range lines {
		if l.Path != JournalPath || l.Cursor == "" || l.Fields["MESSAGE"] == "" {
			t.Errorf("line %+v lacks path, cursor or fields", l)
		}
		if l.Time.Before(before.Add(-time.Second)) || l.Time.After(time.Now()) {
			t.Errorf("line time %v, written at %v", l.Time, before)
		}
	}
	c.stop(t)
	if got := cur.get(); got != lines[1].Cursor {
		t.Errorf("saved cursor %q, want the last line's %q", got, lines[1].Cursor)
	}
}

// TestJournalResumeAndRestart: a saved cursor resumes after the last entry
// handed on; a killed journalctl is restarted and nothing is lost or
// repeated.
func TestJournalResumeAndRestart(t *testing.T) {
	needJournald(t)
	ident := uniqueIdent(t, "r")
	prog, pidfile := journalctlWrapper(t)
	cur := &memCursors{}
	o := JournalOptions{
		Match: []string{"SYSLOG_IDENTIFIER=" + ident}, Cursors: cur, Journalctl: prog,
		RestartMin: 10 * time.Millisecond, RestartMax: 50 * time.Millisecond,
	}
	// No cursor and no Since: only entries written once journalctl runs.
	jwrite(t, ident, "before start\n")
	c := start(t, newJournalT(t, o))
	syncJournal(t, c, ident)
	n := c.count()
	jwrite(t, ident, "a1\na2\n")
	c.waitCount(t, n+2)

	// Kill journalctl: the source starts it again after the last cursor.
	if err := syscall.Kill(pids(t, pidfile)[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	jwrite(t, ident, "a3\n")
	waitFor(t, func() bool { return len(pids(t, pidfile)) == 2 }, func() string { return "journalctl restart" })
	jwrite(t, ident, "a4\n")
	c.waitCount(t, n+4)
	// Saved within SaveInterval although no entry follows.
	c.mu.Lock()
	last := c.lines[n+3].Cursor
	c.mu.Unlock()
	waitFor(t, func() bool { return cur.get() == last }, func() string { return "the cursor saved while idle" })
	c.stop(t)

	// Down: entries written now come on the next start, after the cursor.
	jwrite(t, ident, "b1\nb2\n")
	c2 := start(t, newJournalT(t, o))
	c2.waitCount(t, 2)
	jwrite(t, ident, "b3\n")
	c2.waitCount(t, 3)
	settle()
	if got, want := withoutSync(c.texts()), []string{"a1", "a2", "a3", "a4"}; !slices.Equal(got, want) {
		t.Errorf("first run lines %q, want %q", got, want)
	}
	if got, want := withoutSync(c2.texts()), []string{"b1", "b2", "b3"}; !slices.Equal(got, want) {
		t.Errorf("second run lines %q, want %q", got, want)
	}
}

// TestJournalBadCursor: journalctl refuses a malformed saved cursor; the
// source drops it and carries on from the end.
func TestJournalBadCursor(t *testing.T) {
	needJournald(t)
	ident := uniqueIdent(t, "c")
	cur := &memCursors{c: "not-a-cursor"}
	prog, pidfile := journalctlWrapper(t)
	c := start(t, newJournalT(t, JournalOptions{
		Match: []string{"SYSLOG_IDENTIFIER=" + ident}, Cursors: cur, Journalctl: prog,
		RestartMin: 10 * time.Millisecond,
	}))
	waitFor(t, func() bool { return len(pids(t, pidfile)) == 2 }, func() string { return "journalctl restart" })
	syncJournal(t, c, ident)
	n := c.count()
	jwrite(t, ident, "fine\n")
	c.waitCount(t, n+1)
	if got := c.texts()[n]; !strings.HasSuffix(got, ": fine") {
		t.Errorf("line %q", got)
	}
	waitFor(t, func() bool { return cur.get() != "not-a-cursor" }, func() string { return "a new cursor saved" })
}

func TestJournalNoJournalctl(t *testing.T) {
	src := newJournalT(t, JournalOptions{Journalctl: filepath.Join(t.TempDir(), "missing")})
	err := src.Run(t.Context(), make(chan Line))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Run without journalctl: %v, want ErrNotExist", err)
	}
}
