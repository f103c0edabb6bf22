package datetime

import (
	"math/rand"
	"slices"
	"testing"
)

// fastSeeds are lines in and near the shapes the fast matchers accept.
var fastSeeds = []string{
	"Jan  2 15:04:05 host sshd[1]: x",
	"Mon Jan 12 05:04:05 host",
	"jan 31 23:59:59",
	"Feb 3 01:02:03 x",
	"Dec 09 24:00:00 x",
	"Sun Mar  4 06:58:04 2022 sshd",
	"Jan  2 15:04:05.123 x",
	"Jan  2 15:04:05x",
	"2026-01-02T15:04:05.123456+01:00 host",
	"2026/01/02 15:04:05 x",
	"2026.01.02 15:04:05,5Z x",
	"2019-12-31T23:59:59.1234567 x",
	"2026-01-02T15:04:05 UTC x",
	"2026-01-02T15:04:05\t+0100",
	"2026-01-02T15:04:05+01:0x",
	"2026-01-02T24:04:05 x",
	"2031-01-02 15:04:05 x",
	"2026-13-02T15:04:05 x",
	`1.2.3.4 - - [02/Jan/2026:15:04:05 +0100] "GET / HTTP/1.1" 200`,
	"x [31-dec-2025 23:59:59.999 utc] y",
	"[01/Feb/2026 01:02:03 Z]",
	"[01/Feb/2026:01:02:03 +01:00x]",
	"a02/Jan/2026:15:04:05 b",
	"02/Jan/2026:15:04:05.1234567",
}

// fastTemplates returns the default templates that have a fast matcher.
func fastTemplates(t testing.TB) []*template {
	b := builder{ymax: 2029}
	b.dirs = directives(b.ymax)
	all, err := b.defaults()
	if err != nil {
		t.Fatal(err)
	}
	var out []*template
	for _, tp := range all {
		if tp.m != nil && tp.m.fast != fastNone {
			out = append(out, tp)
		}
	}
	if len(out) != 6 {
		t.Fatalf("want 6 templates with fast matchers, got %d", len(out))
	}
	return out
}

// checkFast compares a template's result with and without its fast
// matcher on line.
func checkFast(t testing.TB, tp *template, line string) {
	m := tp.m
	kind := m.fast
	okF := tp.match(line, 0, len(line))
	capsF := slices.Clone(m.caps)
	m.fast = fastNone
	okE := tp.match(line, 0, len(line))
	capsE := slices.Clone(m.caps)
	m.fast = kind
	if okF != okE || okF && !slices.Equal(capsF, capsE) {
		t.Fatalf("%s on %q:\n fast   %v %v\n engine %v %v", tp.name, line, okF, capsF, okE, capsE)
	}
}

func (t *template) match(line string, from, end int) bool {
	_, _, _, _, ok := t.matchSpan(line, from, end)
	return ok
}

// mutate applies a few random edits drawn from date-like characters.
func mutate(r *rand.Rand, s string) string {
	const alphabet = "0123456789 :/-.,+TZUCGMjanJANdecmonx[]@\t\xc3\xa9"
	b := []byte(s)
	for n := r.Intn(4); n >= 0; n-- {
		c := alphabet[r.Intn(len(alphabet))]
		i := r.Intn(len(b) + 1)
		switch r.Intn(3) {
		case 0:
			if i < len(b) {
				b[i] = c
			}
		case 1:
			b = append(b[:i], append([]byte{c}, b[i:]...)...)
		default:
			if i < len(b) {
				b = append(b[:i], b[i+1:]...)
			}
		}
	}
	return string(b)
}

func TestFastMatchersAgreeWithEngine(t *testing.T) {
	tps := fastTemplates(t)
	r := rand.New(rand.NewSource(7))
	decided := 0
	for i := 0; i < 20000; i++ {
		line := fastSeeds[i%len(fastSeeds)]
		if i >= len(fastSeeds) {
			line = mutate(r, line)
		}
		for _, tp := range tps {
			checkFast(t, tp, line)
			if tp.m.prog.anchored && tp.m.fastAt0(line) {
				decided++
			}
		}
	}
	if decided == 0 {
		t.Fatal("fast matchers never decided")
	}
}

func FuzzFastPaths(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add(s)
	}
	tps := fastTemplates(f)
	f.Fuzz(func(t *testing.T, line string) {
		for _, tp := range tps {
			checkFast(t, tp, line)
		}
	})
}

// Every unanchored default pattern template must have a required literal
// to search for; without one each line costs an attempt at every byte.
func TestDefaultTemplatesHaveAnchors(t *testing.T) {
	b := builder{ymax: 2029}
	b.dirs = directives(b.ymax)
	all, err := b.defaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range all {
		if tp.kind != kindPattern || tp.m.prog.anchored {
			continue
		}
		if a := tp.m.prog.anchor; a.lit == "" || a.maxOff < a.minOff {
			t.Errorf("%s: no usable anchor literal (%+v)", tp.name, a)
		}
	}
}
