package datetime

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

var fuzzLines = []string{
	"Jan  2 15:04:05 host sshd[1]: Failed password for root from 1.2.3.4",
	"2026-01-02T15:04:05.123456+01:00 host x",
	`1.2.3.4 - - [02/Jan/2026:15:04:05 +0100] "GET / HTTP/1.1" 200 1`,
	"[1138215279.555] x", "audit(1138215279.555:1): x", "@4000000044e8c4b01d2a3c4f x",
	"Sun Jan 23 2005 21:59:59.011 x", "<09/16/08@05:03:30>", "130322 11:46:11 x",
	"Jan 23, 2005 9:59:59 PM x", "\xff\xfe\x00", "", "ŒŒ 2026-01-02 15:04:05 ŒŒ",
}

// checkMatch asserts the invariants every Find result must hold.
func checkMatch(t *testing.T, line string, m Match, ok bool) {
	t.Helper()
	if m.Start < 0 || m.End < m.Start || m.End > len(line) {
		t.Fatalf("span %d:%d outside a line of %d bytes", m.Start, m.End, len(line))
	}
	if ok && m.Template == "" {
		t.Fatal("a match without a template name")
	}
	if utf8.ValidString(line) && !utf8.ValidString(line[m.Start:m.End]) {
		t.Fatalf("span %d:%d splits a character of %q", m.Start, m.End, line)
	}
}

func FuzzFind(f *testing.F) {
	for _, l := range fuzzLines {
		f.Add(l, l)
	}
	now := func() time.Time { return testNow }
	d, err := New(Options{Now: now})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		// Two lines in a row exercise the "last template first" paths.
		for _, line := range []string{a, b, a + b} {
			m, ok := d.Find(line)
			checkMatch(t, line, m, ok)
		}
	})
}

// FuzzPattern feeds arbitrary datepatterns to the strptime compiler; a
// pattern either fails with ErrBadPattern or yields a working detector.
func FuzzPattern(f *testing.F) {
	for _, p := range append(defaultPatterns,
		"{^LN-BEG}", "{DEFAULT}", "{NONE}", "^[^\\[]*\\[({DATE})", "{UNB}%Y%m%d", "**%H:%M**", "^L %d/%m/%Y - %H:%M:%S",
		"LEPOCH", "^\\[{EPOCH}\\]", "%Exz %ExZ %Exk %Exl %j %U %W %w %c %x %X %G %V %u", "(?i)%b(?P=x)", "a{2,1}", "[z-a]",
		"(?<=a+)%H", "%H(?#c)", "(?(1)a|b)%H", "%%%Y") {
		f.Add(p, "Jan  2 15:04:05 2026-01-02 15:04:05 1138215279 x")
	}
	now := func() time.Time { return testNow }
	f.Fuzz(func(t *testing.T, pattern, line string) {
		if len(pattern) > 200 {
			return
		}
		d, err := New(Options{Pattern: pattern, Now: now})
		if err != nil {
			return
		}
		m, ok := d.Find(line)
		checkMatch(t, line, m, ok)
	})
}

// FuzzEngineVsRegexp2 compares the own engine with regexp2 on the default
// templates' regexes for ASCII lines (where both agree on \d, \w, \s).
func FuzzEngineVsRegexp2(f *testing.F) {
	for _, l := range fuzzLines {
		f.Add(l, uint8(0))
	}
	b := builder{ymax: 2029}
	b.dirs = directives(b.ymax)
	tps, err := b.defaults()
	if err != nil {
		f.Fatal(err)
	}
	var res []*regexp2.Regexp
	for _, tp := range tps {
		res = append(res, regexp2.MustCompile(toRE2Syntax(tp.regex), regexp2.RE2))
		tp.m.fast = fastNone
	}
	f.Fuzz(func(t *testing.T, line string, which uint8) {
		if len(line) > 300 || !isASCII(line) || strings.ContainsAny(line, "\n\r") {
			return
		}
		i := int(which) % len(tps)
		tp := tps[i]
		ok := tp.m.search(line, 0, len(line))
		m, err := res[i].FindStringMatch(line)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (m != nil) {
			t.Fatalf("%s on %q: engine %v, regexp2 %v", tp.regex, line, ok, m != nil)
		}
		if !ok {
			return
		}
		g := m.GroupByNumber(1)
		if tp.m.caps[0] != m.Index || tp.m.caps[1] != m.Index+m.Length || tp.m.caps[2] != g.Index || tp.m.caps[3] != g.Index+g.Length {
			t.Fatalf("%s on %q: engine %v, regexp2 %d:%d group %d:%d", tp.regex, line, tp.m.caps[:4],
				m.Index, m.Index+m.Length, g.Index, g.Index+g.Length)
		}
	})
}
