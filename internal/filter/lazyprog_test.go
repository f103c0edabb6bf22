package filter

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"sync"
	"testing"
)

// TestLazyFirstEnd: the automaton a chain gets is built on its first
// walk; one that cannot start answers "cannot tell", never "no match",
// and assertions are refused at once, as newFirstEnd refuses them.
func TestLazyFirstEnd(t *testing.T) {
	for _, expr := range []string{`^a`, `(?m)a$`, `\bx`, `a\B`, `\Aa`, `(?:x|\b)`} {
		re, _ := syntax.Parse(expr, syntax.Perl)
		if lazyFirstEnd(re) != nil {
			t.Errorf("%q: assertions must be refused", expr)
		}
	}
	re, _ := syntax.Parse(`\zb`, syntax.Perl) // no match from anywhere
	fe := lazyFirstEnd(re)
	if fe == nil {
		t.Fatal(`\zb: want an automaton not yet started`)
	}
	if fe.tab.Load() != nil {
		t.Error(`\zb: started before its first walk`)
	}
	if _, ok := fe.end([]byte("ab"), 0); ok {
		t.Error(`\zb: a walk through an automaton that cannot start must answer ok=false`)
	}
	if newFirstEnd(re) != nil {
		t.Error(`\zb: newFirstEnd must refuse it`)
	}
	re, _ = syntax.Parse(`a+b`, syntax.Perl)
	fe = lazyFirstEnd(re)
	if fe.tab.Load() != nil {
		t.Error("a+b: started before its first walk")
	}
	if e, ok := fe.end([]byte("aabx"), 0); !ok || e != 3 {
		t.Errorf("a+b on aabx: end %d ok %v, want 3 true", e, ok)
	}
}

// TestChainLazySegment: a chain whose segment cannot start gives way to
// regexp (ok=false) on every line.
func TestChainLazySegment(t *testing.T) {
	c := newChain(`^(a+)\zb`)
	if c == nil {
		t.Fatal("no chain: a segment that cannot start must not refuse the chain up front")
	}
	if loc, ok := c.find([]byte("aab")); ok {
		t.Errorf("find: %v, want ok=false", loc)
	}
}

// TestGoRegexp: the lazy regexp refuses what regexp.Compile refuses, with
// the same error, compiles once however many goroutines ask, and answers
// as regexp does.
func TestGoRegexp(t *testing.T) {
	for _, expr := range []string{`(`, `a{2000}{2000}`, `(?P<x>a)(?P<x>b)`, `\8`} {
		_, want := regexp.Compile(expr)
		_, _, got := goRegexp(expr)
		if (want == nil) != (got == nil) || want != nil && want.Error() != got.Error() {
			t.Errorf("%q: error %v, regexp.Compile says %v", expr, got, want)
		}
	}
	lr, parsed, err := goRegexp(`(a+)(b)?`)
	if err != nil || parsed == nil || parsed.MaxCap() != 2 {
		t.Fatalf("goRegexp: %v %v", parsed, err)
	}
	if lr.re != nil {
		t.Error("compiled before first use")
	}
	var wg sync.WaitGroup
	got := make([][]int, 4)
	for i := range got {
		wg.Go(func() { got[i] = lr.FindSubmatchIndex([]byte("xaab")) })
	}
	wg.Wait()
	want := regexp.MustCompile(`(a+)(b)?`).FindSubmatchIndex([]byte("xaab"))
	for i := range got {
		if !slices.Equal(got[i], want) {
			t.Errorf("goroutine %d: %v, want %v", i, got[i], want)
		}
	}
	if lr.String() != `(a+)(b)?` || !lr.Match([]byte("a")) || lr.Match([]byte("b")) {
		t.Error("String/Match disagree with regexp")
	}
}

// TestSegInnerShared: a segment's inner reader is worked out on its first
// span, once for the chain and all its clones, and the walks of clones on
// several goroutines agree with regexp (run with -race).
func TestSegInnerShared(t *testing.T) {
	expr := `^(\S+) from (?:\[?(?:([0-9]{1,3}(?:\.[0-9]{1,3}){3})|([0-9a-f:]+))\]?) port \d+`
	c := newChain(expr)
	if c == nil {
		t.Fatal("no chain")
	}
	var si *segInner
	for i := range c.segs {
		if c.segs[i].inner != nil {
			si = c.segs[i].inner
		}
	}
	if si == nil {
		t.Fatal("no segment with groups inside")
	}
	if si.reader != nil {
		t.Error("reader built before the first span")
	}
	re := regexp.MustCompile(expr)
	lines := []string{"root from 192.0.2.7 port 22", "x from [2001:db8::1] port 9", "a b from 1.2.3.4 port 1"}
	var wg sync.WaitGroup
	for range 4 {
		cl := c.clone()
		wg.Go(func() {
			for _, l := range lines {
				got, ok := cl.find([]byte(l))
				if want := re.FindSubmatchIndex([]byte(l)); ok && !slices.Equal(got, want) {
					t.Errorf("%q: chain %v, regexp %v", l, got, want)
				}
			}
		})
		for i := range cl.segs {
			if cl.segs[i].inner != nil && cl.segs[i].inner != si {
				t.Error("a clone has its own segInner")
			}
		}
	}
	wg.Wait()
	if re, _ := si.get(); re == nil {
		t.Error("no expression for the segment's groups")
	}
	if _, ok := c.find([]byte(lines[0])); !ok {
		t.Errorf("%q: the chain could not tell", lines[0])
	}
}
