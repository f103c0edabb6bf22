package filter

import (
	"fmt"
	"slices"
	"testing"
)

// partsByRegexp is findParts' answer worked out with regexp alone.
func partsByRegexp(p *pattern, buf []byte) []int {
	for _, cp := range p.ascii.parts {
		sub := cp.re.FindSubmatchIndex(buf)
		if sub == nil {
			continue
		}
		loc := slices.Repeat([]int{-1}, 2*len(p.names))
		loc[0], loc[1] = sub[0], sub[1]
		for j := 1; j < len(cp.slot); j++ {
			loc[2*cp.slot[j]], loc[2*cp.slot[j]+1] = sub[2*j], sub[2*j+1]
		}
		return loc
	}
	return nil
}

// TestPartsGate runs sshd's "Failed ..." failregex through its parts on
// long runs of lines that match one part (the flood's) and mixes of
// others, so that the parts' automata go unasked (dfaGate), and compares
// every answer with regexp's.
func TestPartsGate(t *testing.T) {
	def := f2bDefinition(t, "sshd", nil)
	f, err := Compile(def, Options{Dates: noDates{}})
	if err != nil {
		t.Fatal(err)
	}
	var p *pattern
	for _, q := range f.fail {
		if len(q.ascii.parts) == 4 {
			p = q
		}
	}
	if p == nil {
		t.Fatal("no failregex with four parts")
	}
	forms := []string{
		"Failed password for invalid user admin from 10.%d.0.1 port %d ssh2",
		"Failed password for root from 10.%d.0.2 port %d ssh2",
		"Failed publickey for invalid user bob from 10.%d.0.3 port %d ssh2: RSA SHA256:x",
		"Failed password for invalid user a from b from 10.%d.0.4 port %d ssh2",
		"Failed none for x from 10.%d.0.5 port %d",
		"Failed password for invalid user admin from 10.%d.0.6 port %d ssh2 from x",
	}
	skipped := 0
	for i := range 3000 {
		form := forms[0]
		if i >= 1000 {
			form = forms[i%len(forms)]
		}
		buf := []byte(fmt.Sprintf(form, i%256, i) + "\n")
		before := make([]dfaGate, 4)
		for k := range p.ascii.parts {
			before[k] = p.ascii.parts[k].gate
		}
		got := slices.Clone(p.findParts(p.ascii, buf))
		if want := partsByRegexp(p, buf); !slices.Equal(got, want) {
			t.Fatalf("%q: findParts %v, regexp %v", buf, got, want)
		}
		for k := range p.ascii.parts {
			g := p.ascii.parts[k].gate
			if g.asked != before[k].asked && g.runs == before[k].runs {
				skipped++ // the gate was asked and said: walk first
			}
		}
	}
	if skipped == 0 {
		t.Error("every part's automaton was asked every time")
	}
}
