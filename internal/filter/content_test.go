package filter

import (
	"reflect"
	"strings"
	"testing"
)

// checkContentSplit requires that p's content shortcut, when p has one,
// gives FindSubmatchIndex's answer on every line given and on every prefix
// of it (the shortcut's fallback cases: X reaching the end of the line,
// no content), as one-line buffers the way fillBuf builds them.
func checkContentSplit(t *testing.T, p *pattern, lines []string) {
	t.Helper()
	v := p.ascii
	if v == nil || v.split == nil {
		return
	}
	used := 0
	for _, l := range lines {
		for n := len(l); n >= 0; n-- {
			buf := []byte(l[:n] + "\n")
			if !isASCII(buf) {
				break
			}
			want := v.re.FindSubmatchIndex(buf)
			if m, ok := v.split.matches(buf); ok && m != (want != nil) {
				t.Fatalf("content shortcut on %q: matches %v, FindSubmatchIndex %v", buf, m, want)
			}
			got, ok := v.split.find(buf)
			if !ok {
				continue
			}
			used++
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("content shortcut on %q: %v, FindSubmatchIndex %v", buf, got, want)
			}
		}
	}
	t.Logf("content shortcut used on %d subjects", used)
	if used == 0 && len(lines) > 0 {
		t.Errorf("content shortcut never applied")
	}
}

// TestContentSplit: which prefregexes get the shortcut, and that it agrees
// with the whole expression where it applies and steps aside elsewhere.
func TestContentSplit(t *testing.T) {
	tests := []struct {
		name, pref  string
		split, segs bool // the shortcut applies; X's end found without regexp
	}{
		{"prefix line", `^<F-MLFID>(?:\S+\s+)?(?:\S+\[\d+\]:\s+)?</F-MLFID>(?:(?:error|fatal): )?<F-CONTENT>.+</F-CONTENT>$`, true, true},
		{"optional everything", `^(?P<a>\s*)(?P<b>x*)<F-CONTENT>.+</F-CONTENT>$`, true, true},
		{"case folded", `(?i)^host\s+<F-CONTENT>.+</F-CONTENT>$`, true, true},
		{"lazy and greedy choices", `^(?P<a>\S*?\s*)(?P<b>\S+?(?:\[\d+\])?:?)?\s*<F-CONTENT>.+</F-CONTENT>$`, true, true},
		{"second part not optional", `^(?P<a>\S+)\s+(?P<b>\S+)<F-CONTENT>.+</F-CONTENT>$`, true, false},
		{"nested group", `^(?P<a>\S+(?P<b>\[\d+\])?)\s*<F-CONTENT>.+</F-CONTENT>$`, true, false},
		{"word boundary", `^(?P<a>\w+\b)?\s*<F-CONTENT>.+</F-CONTENT>$`, true, false},
		{"content not last", `^(?P<a>\S+) <F-CONTENT>.+</F-CONTENT> (?P<b>\S+)$`, false, false},
		{"content lazy", `^(?P<a>\S+) <F-CONTENT>.+?</F-CONTENT>$`, false, false},
		{"not anchored", `(?P<a>\S+) <F-CONTENT>.+</F-CONTENT>$`, false, false},
		{"no end", `^(?P<a>\S+) <F-CONTENT>.+</F-CONTENT>`, false, false},
	}
	lines := []string{
		"web01 sshd[123]: Failed password for root from 192.0.2.1 port 22 ssh2",
		"web01 sshd[123]: error: PAM: Authentication failure for root from 192.0.2.1",
		"web01 sshd[123]: ",
		"web01 sshd[123]:",
		"   xxx",
		"HOST  something",
		"web01",
		"",
		"web01 sshd[1]: a\nb", // not one line: the whole expression runs
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := compilePattern(tt.pref, "warn", false, 0)
			if err != nil {
				t.Fatal(err)
			}
			p.ascii.split = newContentSplit(p.asciiExpr)
			if (p.ascii.split != nil) != tt.split {
				t.Fatalf("shortcut %v, want %v for %s", p.ascii.split != nil, tt.split, p.asciiExpr)
			}
			if tt.split {
				if segs := p.ascii.split.segs != nil; segs != tt.segs {
					t.Fatalf("segments %v, want %v for %s", segs, tt.segs, p.asciiExpr)
				}
				// matches answers without a walk when X can match nothing
				if empty := p.ascii.split.empty; empty != (tt.segs && tt.name != "case folded") {
					t.Fatalf("empty %v for %s", empty, p.asciiExpr)
				}
				checkContentSplit(t, p, lines)
			}
		})
	}
	t.Run("steps aside", func(t *testing.T) {
		p, err := compilePattern(tests[0].pref, "warn", false, 0)
		if err != nil {
			t.Fatal(err)
		}
		cs := newContentSplit(p.asciiExpr)
		for _, buf := range []string{"web01 sshd[1]: a\nb\n", "web01 sshd[1]: \n", "no newline", "\n", ""} {
			if _, ok := cs.find([]byte(buf)); ok && strings.Count(buf, "\n") != 1 {
				t.Errorf("shortcut taken on %q", buf)
			}
			if _, ok := cs.find([]byte(buf)); ok && buf == "web01 sshd[1]: \n" {
				t.Errorf("shortcut taken with empty content on %q", buf)
			}
		}
	})
}

// FuzzContentSplit: on any one-line ASCII buffer the shortcut agrees with
// the whole expression (or steps aside).
func FuzzContentSplit(f *testing.F) {
	for _, s := range []string{"web01 sshd[123]: Failed password for root", "web01 sshd[1]: ", "x", "  ", "a b[1]: error: c"} {
		f.Add(s)
	}
	p, err := compilePattern(`^<F-MLFID>(?:\[\])?\s*(?:\S+\s+)?(?:(?:\[\d+\])?:\s+\S*?sshd(?:\[\d+\])?:?\s+)?</F-MLFID>(?:(?:error|fatal): (?:PAM: )?)?<F-CONTENT>.+</F-CONTENT>$`, "warn", false, 0)
	if err != nil {
		f.Fatal(err)
	}
	cs := newContentSplit(p.asciiExpr)
	if cs == nil || cs.segs == nil {
		f.Fatal("no shortcut, or X's end not found by segments")
	}
	f.Fuzz(func(t *testing.T, line string) {
		buf := []byte(line + "\n")
		if !isASCII(buf) {
			return
		}
		want := p.ascii.re.FindSubmatchIndex(buf)
		if got, ok := cs.find(buf); ok && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %v, want %v", buf, got, want)
		}
		if m, ok := cs.matches(buf); ok && m != (want != nil) {
			t.Fatalf("%q: matches %v, want %v", buf, m, want != nil)
		}
	})
}
