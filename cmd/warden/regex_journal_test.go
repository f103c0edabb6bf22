package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"warden/internal/journaldtest"
)

func TestJournalOpts(t *testing.T) {
	tests := []struct {
		arg   string
		want  string // fmt of flags/path/files/namespace
		isErr bool
	}{
		{"systemd-journal", "<nil>||[]|", false},
		{"systemd-journal[journalflags=1]", "1||[]|", false},
		{`systemd-journal[journalpath=/j, journalfiles="/a/*.journal /b.journal", namespace=x]`, "<nil>|/j|[/a/*.journal /b.journal]|x", false},
		{`systemd-journal[ journalfiles='a, b']`, "<nil>||[a, b]|", false},
		{`systemd-journal[ journalfiles='a, b' ]`, "", true}, // fail2ban refuses text after a closing quote, blanks too
		{"systemd-journal[journalflags=x]", "", true},
		{"systemd-journal[bogus=1]", "", true},
		{"systemd-journal[journalflags=1", "", true},
		{`systemd-journal[journalpath="x]`, `<nil>|"x|[]|`, false}, // an unclosed quote is text, as in jail.conf and fail2ban
		{`systemd-journal[journalpath="x" y]`, "", true},
		{"systemd-journal[=1]", "", true},
	}
	for _, tt := range tests {
		o, err := journalOpts(tt.arg)
		if (err != nil) != tt.isErr {
			t.Errorf("%q: err %v, want error %v", tt.arg, err, tt.isErr)
			continue
		}
		if err != nil {
			continue
		}
		flags := "<nil>"
		if o.Flags != nil {
			flags = fmt.Sprint(*o.Flags)
		}
		if got := fmt.Sprintf("%s|%s|%v|%s", flags, o.Path, o.Files, o.Namespace); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.arg, got, tt.want)
		}
	}
}

func FuzzJournalOpts(f *testing.F) {
	for _, s := range []string{"systemd-journal", "systemd-journal[journalflags=1]", `systemd-journal[journalpath=/j, journalfiles="a, b"]`,
		`systemd-journal[namespace='q"', journalpath=]`, "systemd-journal[=]", `systemd-journal[journalpath="]`, "systemd-journal[a=1 b=2]", "systemd-journal[,,]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := journalOpts(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(s, "systemd-journal") {
			t.Errorf("%q: accepted", s)
		}
		for _, v := range []string{o.Path, o.Namespace} {
			if v != strings.TrimSpace(v) {
				t.Errorf("%q: value %q not trimmed", s, v)
			}
		}
	})
}

// testJournald makes sure a journald serves entries (see journaldtest),
// skipping the test when none can.
func testJournald(t *testing.T) {
	t.Helper()
	stop, reason := journaldtest.Start()
	t.Cleanup(stop)
	if reason != "" {
		t.Skip(reason)
	}
}

// TestRegexJournal: warden regex reads the entries journalmatch selects,
// each with its own time, formatted as fail2ban's systemd backend does.
func TestRegexJournal(t *testing.T) {
	testJournald(t)
	ident := fmt.Sprintf("wregex%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	lines := "Failed password for root from 192.0.2.7 port 22 ssh2\n" +
		"session opened for user deploy\n" +
		"Failed password for admin from 2001:db8::9 port 22 ssh2\n"
	if err := journaldtest.Write(ident, lines); err != nil {
		t.Skip(err)
	}
	if !journaldtest.Has(ident, 3) {
		t.Fatal("entries not in the journal")
	}
	re := `Failed password for \S+ from <HOST>`
	match := "SYSLOG_IDENTIFIER=" + ident
	for _, log := range []string{"systemd-journal", "systemd-journal[journalflags=4]"} {
		code, out, errOut := runCLI(t, "regex", "-m", match, log, re)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", log, code, errOut)
		}
		for _, want := range []string{"Use         systemd journal", "Use    journal match : " + match,
			"Lines: 3 lines, 0 ignored, 2 matched, 1 missed"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s", log, want, out)
			}
		}
	}
	code, out, errOut := runCLI(t, "regex", "-m", match, "-o", "<ip> <msg>", "systemd-journal", re)
	if code != 0 {
		t.Fatalf("-o: exit %d: %s", code, errOut)
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	lineRE := regexp.MustCompile(`^(\S+) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d \S+ ` + ident + `\[\d+\]: Failed password for \S+ from (\S+) port 22 ssh2$`)
	wantIPs := []string{"192.0.2.7", "2001:db8::9"}
	if len(got) != len(wantIPs) {
		t.Fatalf("-o output:\n%s", out)
	}
	for i, l := range got {
		m := lineRE.FindStringSubmatch(l)
		if m == nil || m[1] != wantIPs[i] || m[3] != wantIPs[i] {
			t.Errorf("line %d: %q", i, l)
		}
	}
	// fail2ban-regex itself, where python-systemd is there to let it
	// read the journal: the same summary, lines and -o output
	if exec.Command("/usr/bin/python3", "-c", "import systemd.journal").Run() == nil {
		if _, err := exec.LookPath("fail2ban-regex"); err == nil {
			for _, args := range [][]string{{"--print-all-matched", "--print-all-missed"}, {"-o", "<ip> <msg>"}} {
				all := append(append([]string{"-m", match}, args...), "systemd-journal", re)
				f2b, err := exec.Command("fail2ban-regex", all...).Output()
				if err != nil {
					t.Fatalf("fail2ban-regex %q: %v", all, err)
				}
				_, out, _ := runCLI(t, append([]string{"regex"}, all...)...)
				if normalize(out) != normalize(string(f2b)) {
					t.Errorf("%q:\n--- warden ---\n%s\n--- fail2ban-regex ---\n%s", all, out, f2b)
				}
			}
		}
	}
	// -m's words are one match line, as in fail2ban-regex: ANDed (the
	// entries were written at PRIORITY=6), "+" for alternatives
	for _, tt := range []struct {
		m     string
		lines string
	}{
		{match + " PRIORITY=6", "Lines: 3 lines"},
		{match + " PRIORITY=3", "Lines: 0 lines"},
		{match + " PRIORITY=3 + " + match, "Lines: 3 lines"},
	} {
		code, out, errOut := runCLI(t, "regex", "-m", tt.m, "systemd-journal", re)
		if code != 0 {
			t.Fatalf("-m %q: exit %d: %s", tt.m, code, errOut)
		}
		if !strings.Contains(out, tt.lines+",") {
			t.Errorf("-m %q: no %q in\n%s", tt.m, tt.lines, out)
		}
	}
	// a journalmatch journalctl would not take as matches is an error
	if code, _, _ := runCLI(t, "regex", "-m", "/etc/passwd", "systemd-journal", re); code == 0 {
		t.Error("a path as journalmatch was accepted")
	}
}
