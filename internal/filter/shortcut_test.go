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

// TestCountingFields: with Counting, CountingFields keeps just the named
// groups that matched, as the full failure has them, and nothing else.
func TestCountingFields(t *testing.T) {
	def := Definition{FailRegex: []string{
		`^login failed for <F-USER>\S+</F-USER> from <HOST>$`,
		`^relay <F-IP>\S+</F-IP> for <HOST>(?: as <F-ALT_USER>\S+</F-ALT_USER>)?$`,
	}}
	full := mustCompile(t, def, Options{Dates: noDates{}})
	tests := []struct {
		line   string
		names  []string
		fields map[string]string
	}{
		{"login failed for bob from 192.0.2.1", []string{"ip"}, nil},
		{"login failed for bob from 192.0.2.1", []string{"user", "nosuch"}, map[string]string{"user": "bob"}},
		{"relay 198.51.100.7 for 192.0.2.1", []string{"ip"}, map[string]string{"ip": "198.51.100.7"}},
		{"relay 198.51.100.7 for 192.0.2.1", []string{"alt_user", "ip"}, map[string]string{"ip": "198.51.100.7"}},
		{"relay x for 192.0.2.1 as eve", []string{"alt_user", "user"}, map[string]string{"alt_user": "eve", "user": "eve"}},
	}
	for _, tt := range tests {
		count := mustCompile(t, def, Options{Dates: noDates{}, Counting: true, CountingFields: tt.names})
		a, b := full.Process(tt.line), count.Process(tt.line)
		if len(a.Failures) != 1 || len(b.Failures) != 1 {
			t.Fatalf("%q: %d failures, counting %d", tt.line, len(a.Failures), len(b.Failures))
		}
		fa, fb := a.Failures[0], b.Failures[0]
		if fmt.Sprint(fb.Fields) != fmt.Sprint(tt.fields) || (tt.fields == nil) != (fb.Fields == nil) {
			t.Errorf("%q %v: fields %v, want %v", tt.line, tt.names, fb.Fields, tt.fields)
		}
		for _, k := range tt.names {
			va, oka := fa.Fields[k]
			if vb, okb := fb.Fields[k]; va != vb || oka != okb {
				t.Errorf("%q: %s=%q (%v), the full failure has %q (%v)", tt.line, k, vb, okb, va, oka)
			}
		}
		if fb.Lines != nil || fb.Users != nil {
			t.Errorf("%q: counting kept %v %v", tt.line, fb.Lines, fb.Users)
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
	if p.gate.use() && p.gate.use() {
		t.Fatalf("automaton still asked every time (runs %d, misses %d)", p.gate.runs, p.gate.misses)
	}
	for range 100 {
		if loc, _ := p.find(miss, true, nil); loc != nil {
			t.Fatalf("match %v on %q", loc, miss)
		}
	}
	if p.gate.misses == 0 {
		t.Error("the sampled runs saw no miss")
	}
}
