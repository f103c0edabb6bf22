package filter

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"testing"
)

// spanShapes are segment expressions (Go syntax) with the reader each
// should get ("" for none).
var spanShapes = []struct{ expr, reader string }{
	{`(publickey)|\S+`, "fixed"},
	{`Received (disconnect)`, "fixed"},
	{`(a)|(b)|c+`, "fixed"},
	{`x(y)z|(w)|v*`, "fixed"},
	{`(ab)|a(b)`, "fixed"},
	{`\S+|(publickey)`, ""},
	{`(?i:(publickey))|\S+`, ""},
	{`(a(b))|c`, ""},
	{`( via \S+)?`, "opt"},
	{`( via \S+)??`, "opt"},
	{`(a*)?`, ""},
	{`(?:\s+user=(\S*))?`, ""},
}

// spanReaderFor builds the reader and the sub-regexp of a chain segment.
func spanReaderFor(tb testing.TB, expr string) (spanReader, *regexp.Regexp) {
	tb.Helper()
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		tb.Fatal(err)
	}
	ai := asciiClasses(re)
	return newSpanReader(ai), regexp.MustCompile(`\A(?:` + ai.String() + `)\z`)
}

// checkSpanReader compares a reader with the sub-regexp on a span the
// segment matches (the only spans a chain hands it).
func checkSpanReader(t *testing.T, expr string, r spanReader, sub *regexp.Regexp, span string) (told bool) {
	t.Helper()
	want := sub.FindStringSubmatchIndex(span)
	if want == nil {
		return false
	}
	g, lo, hi, ok := r.read([]byte(span))
	if !ok {
		return false
	}
	got := slices.Repeat([]int{-1}, len(want))
	got[0], got[1] = 0, len(span)
	if g > 0 {
		got[2*g], got[2*g+1] = lo, hi
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s on %q: reader %v, sub-regexp %v", expr, span, got, want)
	}
	return true
}

func TestSpanReaders(t *testing.T) {
	spans := []string{"", "a", "b", "c", "ccc", "ab", "xyz", "w", "v", "vv", "publickey", "password",
		"Received disconnect", " via ssh", " via x y", "aaa"}
	for _, sh := range spanShapes {
		r, sub := spanReaderFor(t, sh.expr)
		kind := ""
		switch r.(type) {
		case *fixedAltReader:
			kind = "fixed"
		case *optGroupReader:
			kind = "opt"
		case *hostReader:
			kind = "host"
		}
		if kind != sh.reader {
			t.Errorf("%s: reader %q, want %q", sh.expr, kind, sh.reader)
			continue
		}
		if r == nil {
			continue
		}
		told := 0
		for _, s := range spans {
			if checkSpanReader(t, sh.expr, r, sub, s) {
				told++
			}
		}
		if told == 0 {
			t.Errorf("%s: no span told", sh.expr)
		}
	}
}

// FuzzSpanReader: on any span a segment matches, its reader either cannot
// tell or answers as the sub-regexp does.
func FuzzSpanReader(f *testing.F) {
	for i, s := range []string{"publickey", "password", "Received disconnect", "xyz", " via x", "", "w"} {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, k uint8, span string) {
		sh := spanShapes[int(k)%len(spanShapes)]
		r, sub := spanReaderFor(t, sh.expr)
		if r == nil {
			return
		}
		for i := 0; i < len(span); i++ {
			if span[i] >= 0x80 {
				return // chains serve ASCII subjects only
			}
		}
		checkSpanReader(t, sh.expr, r, sub, span)
	})
}
