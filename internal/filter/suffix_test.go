package filter

import (
	"regexp"
	"testing"
)

func TestContentIsSuffix(t *testing.T) {
	for _, tt := range []struct {
		pref string
		want bool
	}{
		{`^\S+ <F-CONTENT>.+</F-CONTENT>$`, true},
		{`^(?:\S+ )?<F-CONTENT>.*</F-CONTENT>\s*$`, false}, // \s* could take more than the newline
		{`^\S+ <F-CONTENT>.+</F-CONTENT>`, false},          // content may stop early
		{`^\S+ <F-CONTENT>(?s:.+)</F-CONTENT>$`, false},    // content may hold the newline
		{`^\S+ <F-CONTENT>[^x]+</F-CONTENT>$`, false},      // [^x] takes newlines
		{`^\S+ <F-CONTENT>[^x\n]+</F-CONTENT>$`, true},
		{`^(?:<F-CONTENT>.+</F-CONTENT>) \S+$`, false},
		{`^\S+ <F-MLFID>\S+</F-MLFID>`, true}, // no content: the buffer is kept
		{`^\S+ (?:<F-CONTENT>.+</F-CONTENT>|x)$`, false},
	} {
		p, err := compilePattern(tt.pref, "yes", false, 0)
		if err != nil {
			t.Fatalf("%s: %v", tt.pref, err)
		}
		if got := contentIsSuffix(p); got != tt.want {
			t.Errorf("%s (%s): %v, want %v", tt.pref, p.asciiExpr, got, tt.want)
		}
	}
}

// TestLooseDFASuperset: whenever an expression matches a suffix of a
// text, its loose automaton matches the text.
func TestLooseDFASuperset(t *testing.T) {
	subjects := dfaSubjects()
	for _, expr := range dfaExprs {
		re := regexp.MustCompile(expr)
		d := newLooseDFA(expr)
		for _, s := range subjects {
			suffixMatch := false
			for k := 0; k <= len(s) && !suffixMatch; k++ {
				suffixMatch = re.MatchString(s[k:])
			}
			m, ok := d.match([]byte(s))
			if ok && suffixMatch && !m {
				t.Errorf("%q: a suffix of %q matches, the loose automaton does not", expr, s)
			}
		}
	}
	// and it stays selective: it is not satisfied by everything
	if m, _ := newLooseDFA(`^Failed \S+ for`).match([]byte("Accepted password for x\n")); m {
		t.Error("loose automaton matched a text without the literals")
	}
}

// TestSuffixSkipsPrefregex: with the content a suffix, a line that only
// passes the literal check counts as a prefregex hit and fails nothing,
// as with the full search.
func TestSuffixSkipsPrefregex(t *testing.T) {
	def := Definition{PrefRegex: `^\S+ <F-CONTENT>.+</F-CONTENT>$`,
		FailRegex: []string{`^Failed password for \S+ from <HOST>$`, `^Invalid user \S+ from <HOST>$`}}
	f := mustCompile(t, def, Options{Dates: noDates{}, Diagnostics: true})
	if !f.suffix {
		t.Fatal("content not recognised as a suffix")
	}
	for _, tt := range []struct {
		line  string
		fails int
	}{
		{"h: Failed password for root from 192.0.2.1", 1},
		{"h: Invalid user bob from 192.0.2.2", 1},
		{"h: Accepted password for root from 192.0.2.1", 0}, // literals present, no failregex can match
		{"h: x Failed password for root from 192.0.2.1", 0}, // content not at the start
		{"h: Failed password for root from 192.0.2.1 x", 0}, // nor to the end
		{"Failed password for root from 192.0.2.1", 0},      // prefregex needs the host field
		{"h: Invalid user b\xc3\xb6b from 192.0.2.3", 1},    // not ASCII: no automaton
	} {
		res := f.Process(tt.line)
		if len(res.Failures) != tt.fails || !res.PrefMatched {
			t.Errorf("%q: %d failures, prefregex %v; want %d, true", tt.line, len(res.Failures), res.PrefMatched, tt.fails)
		}
	}
}
