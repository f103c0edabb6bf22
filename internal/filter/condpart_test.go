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

// sshdParts returns sshd's "Failed ..." failregex with four parts.
func sshdParts(tb testing.TB) *pattern {
	tb.Helper()
	f, err := Compile(f2bDefinition(tb, "sshd", nil), Options{Dates: noDates{}})
	if err != nil {
		tb.Fatal(err)
	}
	for _, q := range f.fail {
		if len(q.ascii.parts) == 4 {
			return q
		}
	}
	tb.Fatal("no failregex with four parts")
	return nil
}

// TestPartLits: each part of sshd's "Failed ..." failregex knows the
// literals that set it apart from the others, and a line lacking one is
// one its regexp does not match.
func TestPartLits(t *testing.T) {
	p := sshdParts(t)
	want := [][]string{{"invalid user ", ": "}, {"invalid user "}, {": "}, nil}
	for k, cp := range p.ascii.parts {
		var got []string
		for _, l := range cp.own {
			got = append(got, string(l))
		}
		if !slices.Equal(got, want[k]) {
			t.Errorf("part %d: own literals %q, want %q", k, got, want[k])
		}
	}
	for _, tc := range []struct {
		line    string
		matches int // the part that matches first, -1 none
	}{
		{"Failed password for invalid user admin from 10.0.0.1 port 22 ssh2", 1},
		{"Failed publickey for invalid user bob from 10.0.0.3 port 22 ssh2: RSA SHA256:x", 0},
		{"Failed password for root from 10.0.0.2 port 22 ssh2", 3},
		{"Failed password for root from 10.0.0.2 port 22 ssh2: RSA", 2},
		{"Failed password for invalid user a: b from 10.0.0.4 port 22 ssh2", 1},
		{"Failed none for x from 10.0.0.5", 3},
		{"Failed none for from 10.0.0.5", -1},
	} {
		buf := []byte(tc.line + "\n")
		first := -1
		for k, cp := range p.ascii.parts {
			m := cp.re.Match(buf)
			if m && cp.ruledOut(buf) {
				t.Errorf("%q: part %d ruled out but its regexp matches", tc.line, k)
			}
			if m && first < 0 {
				first = k
			}
		}
		if first != tc.matches {
			t.Errorf("%q: part %d matches first, want %d", tc.line, first, tc.matches)
		}
		if got, want := p.findParts(p.ascii, buf), partsByRegexp(p, buf); !slices.Equal(got, want) {
			t.Errorf("%q: findParts %v, regexp %v", tc.line, got, want)
		}
	}
}

// FuzzPartLits: on any line, a part its own literals rule out is one its
// regexp does not match, and findParts answers as regexp does.
func FuzzPartLits(f *testing.F) {
	for _, s := range []string{
		"Failed password for invalid user admin from 10.0.0.1 port 22 ssh2",
		"Failed publickey for invalid user bob from 10.0.0.3 port 22 ssh2: RSA SHA256:x",
		"Failed password for root from ::1 port 22 ssh2: x",
		"Failed x for invalid user : from a from b",
	} {
		f.Add(s)
	}
	p := sshdParts(f)
	f.Fuzz(func(t *testing.T, line string) {
		buf := []byte(line + "\n")
		if !isASCII(buf) {
			return
		}
		for k, cp := range p.ascii.parts {
			if cp.ruledOut(buf) && cp.re.Match(buf) {
				t.Fatalf("%q: part %d ruled out but its regexp matches", line, k)
			}
		}
		if got, want := p.findParts(p.ascii, buf), partsByRegexp(p, buf); !slices.Equal(got, want) {
			t.Fatalf("%q: findParts %v, regexp %v", line, got, want)
		}
	})
}
