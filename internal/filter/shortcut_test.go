package filter

import (
	"fmt"
	"testing"
)

// TestCounting: Options.Counting leaves out fields, lines and users and
// changes nothing else.
func TestCounting(t *testing.T) {
	def := Definition{FailRegex: []string{
		`^login failed for <F-USER>\S+</F-USER> from <HOST>$`,
		`^<F-NOFAIL>probe</F-NOFAIL> from <HOST>$`,
	}}
	full := mustCompile(t, def, Options{Dates: noDates{}, CheckAllRegex: true})
	count := mustCompile(t, def, Options{Dates: noDates{}, CheckAllRegex: true, Counting: true})
	for _, line := range []string{"login failed for bob from 192.0.2.1", "probe from 2001:db8::1", "noise"} {
		a, b := full.Process(line), count.Process(line)
		if len(a.Failures) != len(b.Failures) {
			t.Fatalf("%q: %d failures, counting %d", line, len(a.Failures), len(b.Failures))
		}
		for i, fa := range a.Failures {
			fb := b.Failures[i]
			if fb.Fields != nil || fb.Lines != nil || fb.Users != nil {
				t.Errorf("%q: counting kept %v %v %v", line, fb.Fields, fb.Lines, fb.Users)
			}
			fa.Fields, fa.Lines, fa.Users = nil, nil, nil
			if fmt.Sprint(fa) != fmt.Sprint(fb) {
				t.Errorf("%q:\n full     %+v\n counting %+v", line, fa, fb)
			}
		}
	}
}

// TestDFASkip: once the automaton stops rejecting, find searches without
// it; a subject it would have rejected still gets no match.
func TestDFASkip(t *testing.T) {
	f := mustCompile(t, Definition{FailRegex: []string{`^user \S+ failed from <HOST> port \d+$`}}, Options{Dates: noDates{}})
	p := f.fail[0]
	hit := []byte("user bob failed from 192.0.2.1 port 22\n")
	miss := []byte("user bob failed from 192.0.2.1 port x22\n") // same literals, no match
	for range 300 {
		if loc, _ := p.find(hit, true, nil); loc == nil {
			t.Fatal("no match")
		}
	}
	if p.useDFA() && p.useDFA() {
		t.Fatalf("automaton still asked every time (runs %d, misses %d)", p.dfaRuns, p.dfaMisses)
	}
	for range 100 {
		if loc, _ := p.find(miss, true, nil); loc != nil {
			t.Fatalf("match %v on %q", loc, miss)
		}
	}
	if p.dfaMisses == 0 {
		t.Error("the sampled runs saw no miss")
	}
}
