package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestJournalFormatMatchesFail2ban writes entries of several shapes with
// logger --journald, reads them through a Journal source, and compares
// each line and time with what fail2ban's own formatJournalEntry makes of
// the same entry (testdata/f2b_journal.py, run with Debian's python3).
func TestJournalFormatMatchesFail2ban(t *testing.T) {
	needJournald(t)
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import systemd.journal, fail2ban.server.filtersystemd").Run(); err != nil {
		t.Skip("python3-systemd or fail2ban not importable: ", err)
	}
	if _, err := exec.LookPath("logger"); err != nil {
		t.Skip("logger not installed")
	}
	id := uniqueIdent(t, "diff")
	entries := []string{
		"SYSLOG_IDENTIFIER=sshd\nSYSLOG_PID=4242\nMESSAGE=Failed password for root from 192.0.2.1 port 22 ssh2",
		"MESSAGE=no identifier, so _COMM",
		"SYSLOG_IDENTIFIER=hexpid\nSYSLOG_PID=0x1f\nMESSAGE=m",
		"SYSLOG_IDENTIFIER=textpid\nSYSLOG_PID=abc\nMESSAGE=m",
		"SYSLOG_IDENTIFIER=zeropid\nSYSLOG_PID=017\nMESSAGE=m",
		"SYSLOG_IDENTIFIER=kernel\nMESSAGE=oops",
		"SYSLOG_IDENTIFIER=twice\nMESSAGE=first\nMESSAGE=second",
		"SYSLOG_IDENTIFIER=nomessage",
		"SYSLOG_IDENTIFIER=bytes\nMESSAGE=caf\xe9 \xff",
	}
	src := newJournalT(t, JournalOptions{Match: []string{"WARDEN_TEST=" + id}, Since: time.Now().Add(-time.Second)})
	c := start(t, src)
	for _, e := range entries {
		cmd := exec.Command("logger", "--journald")
		cmd.Stdin = strings.NewReader("WARDEN_TEST=" + id + "\n" + e + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("logger: %v: %s", err, out)
		}
	}
	c.waitCount(t, len(entries))
	settle()

	out, err := exec.Command(py, "testdata/f2b_journal.py", id).Output()
	if err != nil {
		t.Fatalf("f2b_journal.py: %v", err)
	}
	type ref struct {
		Line string
		Time float64
	}
	want := map[string]ref{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			Cursor string
			Line   string
			Time   float64
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		want[r.Cursor] = ref{r.Line, r.Time}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(want) != len(entries) || len(c.lines) != len(entries) {
		t.Fatalf("fail2ban read %d entries, we %d, written %d", len(want), len(c.lines), len(entries))
	}
	for _, l := range c.lines {
		w, ok := want[l.Cursor]
		if !ok {
			t.Errorf("cursor %s unknown to fail2ban", l.Cursor)
			continue
		}
		// fail2ban decodes with replacement; we keep the bytes. A PID
		// that is no number it writes as a Python bytes literal; we as is.
		w.Line = strings.Replace(w.Line, "[b'abc']", "[abc]", 1)
		if got := replaceInvalid(l.Text); got != w.Line {
			t.Errorf("line\n got %q\nwant %q", got, w.Line)
		}
		if d := math.Abs(float64(l.Time.UnixMicro())/1e6 - w.Time); d > 1e-6 {
			t.Errorf("time %v, fail2ban %f", l.Time, w.Time)
		}
	}
}

// replaceInvalid swaps each invalid UTF-8 byte for U+FFFD, as Python's
// decode(errors="replace") does.
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
