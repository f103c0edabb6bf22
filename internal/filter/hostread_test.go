package filter

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
)

// hostReaders returns the two shapes' readers and, for each, the
// sub-regexp a chain would otherwise run over the span.
func hostReaders(tb testing.TB) map[string]struct {
	h   *hostReader
	sub *regexp.Regexp
} {
	tb.Helper()
	out := map[string]struct {
		h   *hostReader
		sub *regexp.Regexp
	}{}
	for name, tag := range map[string]string{"host": tagHOST, "addr": `(?:` + tagIP4 + `|` + tagIP6 + `)`} {
		tr, err := translate(tag, transOpts{target: targetGo, asciiInput: true})
		if err != nil {
			tb.Fatal(err)
		}
		re, err := syntax.Parse(tr.expr, syntax.Perl)
		if err != nil {
			tb.Fatal(err)
		}
		ai := asciiClasses(re)
		h := newHostReader(ai)
		if h == nil {
			tb.Fatalf("%s: no reader for %s", name, ai)
		}
		out[name] = struct {
			h   *hostReader
			sub *regexp.Regexp
		}{h, regexp.MustCompile(`\A(?:` + ai.String() + `)\z`)}
	}
	return out
}

// checkHostReader compares the reader's answer on span with the
// sub-regexp's: when the reader tells, the group and bounds must be the
// sub-regexp's (its only group that took part).
func checkHostReader(t *testing.T, name string, h *hostReader, sub *regexp.Regexp, span string) (told bool) {
	t.Helper()
	g, lo, hi, ok := h.read([]byte(span))
	if !ok {
		return false
	}
	want := sub.FindStringSubmatchIndex(span)
	if want == nil {
		t.Fatalf("%s %q: reader says group %d [%d,%d), sub-regexp no match", name, span, g, lo, hi)
	}
	got := slices.Repeat([]int{-1}, len(want))
	got[0], got[1] = 0, len(span)
	got[2*g], got[2*g+1] = lo, hi
	if !slices.Equal(got, want) {
		t.Fatalf("%s %q: reader %v, sub-regexp %v", name, span, got, want)
	}
	return true
}

func TestHostReader(t *testing.T) {
	rs := hostReaders(t)
	for _, tc := range []struct {
		shape, span string
		told        bool
	}{
		{"host", "10.1.0.0", true},
		{"host", "203.0.113.7", true},
		{"host", "[203.0.113.7]", true},
		{"host", "[203.0.113.7", true},
		{"host", "203.0.113.7]", true},
		{"host", "999.999.999.999", true}, // the regex does not check ranges
		{"host", "1.2.3", true},           // no quad: a dns name
		{"host", "1.2.3.4.5", true},       // likewise
		{"host", "example.com", true},
		{"host", "a-b_c.example^x.org", true},
		{"host", "x", true},
		{"host", "1234.1.1.1", true}, // a dns name: four digits
		{"host", "::ffff:1.2.3.4", true},
		{"host", "::ffffff:1.2.3.4", true},
		{"host", "::fffffff:1.2.3.4", false},
		{"host", "::FFFF:1.2.3.4", false},
		{"host", "2001:db8::1", true},
		{"host", "[2001:db8::1]", true},
		{"host", "240e:390:bbf6:4::f658", true},
		{"host", "2a03:b0c0:95ed:a:8671:3211:8f8d:a6af", true},
		{"host", "1:2:3:4:5:6:7:8:9", false},
		{"host", "::", false},
		{"host", ":::", true},
		{"host", "fe80::", true},
		{"host", "12345::1", false},
		{"host", "example.com.", false}, // not a dns name: the sub-regexp says no
		{"host", "[example.com]", false},
		{"host", "", false},
		{"host", "[]", false},
		{"addr", "192.0.2.1", true},
		{"addr", "::ffff:192.0.2.1", true},
		{"addr", "fe80::1", true},
		{"addr", "host.example", false},
	} {
		r := rs[tc.shape]
		if got := checkHostReader(t, tc.shape, r.h, r.sub, tc.span); got != tc.told {
			t.Errorf("%s %q: told %v, want %v", tc.shape, tc.span, got, tc.told)
		}
	}
}

// TestChainHostReaders checks that sshd's failregexes read <HOST> with
// the reader: the chain segments that hold it have one.
func TestChainHostReaders(t *testing.T) {
	def := f2bDefinition(t, "sshd", map[string]string{"mode": "aggressive"})
	f, err := Compile(def, Options{Dates: noDates{}})
	if err != nil {
		t.Fatal(err)
	}
	chains := 0
	for _, p := range f.fail {
		if !strings.Contains(p.expanded, tagHOST) {
			continue
		}
		cs := []*chain{p.ascii.chain}
		for _, cp := range p.ascii.parts {
			cs = append(cs, cp.chain)
		}
		for _, c := range cs {
			if c == nil {
				continue
			}
			chains++
			if !slices.ContainsFunc(c.segs, func(sg chainSeg) bool {
				if sg.inner == nil {
					return false
				}
				_, r := sg.inner.get()
				_, ok := r.(*hostReader)
				return ok
			}) {
				t.Errorf("%s: a chain without a host reader", p.source)
			}
		}
	}
	if chains < 10 {
		t.Errorf("%d chains with <HOST>, want 10 or more", chains)
	}
}

// FuzzHostReader: on any span, the reader either cannot tell or answers
// as the sub-regexp does.
func FuzzHostReader(f *testing.F) {
	for _, s := range []string{"10.1.0.0", "[1.2.3.4]", "example.com", "::ffff:1.2.3.4", "2001:db8::1", "1.2.3", "a..b", "[x]", "1.2.3.4]", "_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, span string) {
		for i := 0; i < len(span); i++ {
			if span[i] >= 0x80 {
				return // chains serve ASCII subjects only
			}
		}
		for name, r := range hostReaders(t) {
			checkHostReader(t, name, r.h, r.sub, span)
		}
	})
}

// hostShape is the form a chain segment holding tag has: translated for
// ASCII subjects, parsed, its classes cut to ASCII, printed.
func hostShape(tb testing.TB, tag string) string {
	tb.Helper()
	tr, err := translate(tag, transOpts{target: targetGo, asciiInput: true})
	if err != nil || len(tr.reasons) > 0 {
		tb.Fatalf("%s: %v %v", tag, err, tr.reasons)
	}
	re, err := syntax.Parse(tr.expr, syntax.Perl)
	if err != nil {
		tb.Fatal(err)
	}
	return asciiClasses(re).String()
}

// TestHostShapes: the shapes written out in hostread.go are what the
// translator makes of the tags.
func TestHostShapes(t *testing.T) {
	if got := hostShape(t, tagHOST); got != hostShapeHOST {
		t.Errorf("<HOST> prints as\n%s\nnot\n%s", got, hostShapeHOST)
	}
	if got := hostShape(t, `(?:`+tagIP4+`|`+tagIP6+`)`); got != hostShapeADDR {
		t.Errorf("<ADDR>'s core prints as\n%s\nnot\n%s", got, hostShapeADDR)
	}
}
