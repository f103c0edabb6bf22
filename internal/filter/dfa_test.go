package filter

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// dfaExprs are Go expressions with the features the automaton must get
// right: anchors, multi-line anchors, word boundaries, classes, case
// folding, alternations that only fail late, and empty matches.
var dfaExprs = []string{
	`^Failed \S+ for (?:invalid user )?\S+ from (\d+\.\d+\.\d+\.\d+)(?: port \d+)?\n?\z`,
	`^(?P<mlfid>(?:\[\])?\s*(?:<[^.]+\.[^.]+>\s+)?(?:\S+\s+)?(?:\S+\[\d+\]:\s+)?)(?P<content>.+)\n?\z`,
	`(?m)^x$`, `(?m)^\d+ y$`, `\bword\b`, `\Bor\B`, `(?i)auth(?:entication)? failure`,
	`a$|b$`, `^$`, `\A\z`, ``, `x*`, `(?s)a.b`, `a.b`, `[^\n]+\n[^\n]+`,
	`user (?:root|admin|[a-z]+\d) from`, `(?:ab|a)(?:bc|c)d`, `\d{2,4}-\d{2}`,
	`(?:\S+\s+){3}\[preauth\]`, `^\s*$`, `\b\d+\b\.\b\d+\b`, `(?i)K`,
	`^\S+ (.+)\n?\z`, `^[^:]*: x+[^x]*y$`, `from \S+ port \d+\z`, `^(?:[^ab\n]*[ab]){3}\n`,
}

// dfaSubjects are ASCII texts to match the expressions against.
func dfaSubjects() []string {
	s := []string{"", "\n", "x", "x\n", "y\nx\n", "x\ny", "12 y\nz", "a word here", "swords", "or", "for or",
		"Failed password for root from 192.0.2.1 port 22\n", "Failed password for invalid user bob from 192.0.2.1\n",
		" srv01 sshd[123]: Invalid user x from 192.0.2.1\n", "AUTHENTICATION FAILURE", "authentication failure",
		"a\nb", "a.b", "abcd", "acd", "abd", "12-34", "1234-56", "a b c [preauth]", "k", "K", "   ",
		"user root from", "user bob7 from", "user b from", "1.2", "x1.2y", "b\n", "a\n\n"}
	long := strings.Repeat("x", 70)
	s = append(s, "host "+long+"\n", "host "+long+"\nmore", "a: "+long+" y", "a: "+long+"y\n", "from h port 22",
		"from "+long+" port 1"+long, long+"a"+long+"b"+long+"a\n", long+"a"+long+"b\n")
	rng := rand.New(rand.NewPCG(7, 11))
	const alphabet = "ab xyz\n01.-[]_Kk:"
	for i := range 400 {
		var b strings.Builder
		for range rng.IntN(24 + i/4) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		s = append(s, b.String())
	}
	return s
}

// TestDFAAgreesWithRegexp checks the automaton against Go's regexp on
// every expression and subject, twice (the second time from its cache).
func TestDFAAgreesWithRegexp(t *testing.T) {
	subjects := dfaSubjects()
	for _, expr := range dfaExprs {
		re := regexp.MustCompile(expr)
		d := newDFA(expr)
		if d == nil {
			t.Fatalf("%q: no automaton", expr)
		}
		for round := range 2 {
			for _, s := range subjects {
				got, ok := d.match([]byte(s))
				if !ok {
					t.Fatalf("%q on %q: automaton gave up", expr, s)
				}
				if want := re.MatchString(s); got != want {
					t.Errorf("round %d: %q on %q: automaton %v, regexp %v", round, expr, s, got, want)
				}
			}
		}
	}
}

// TestDFALimits: bytes above 0x7f and a blown state budget make the
// automaton decline rather than guess.
func TestDFALimits(t *testing.T) {
	// (a|b)*a(a|b){12} needs 2^13 states: more than a budget of 500
	d := newDFA(`[ab]*a[ab]{12}`)
	d.limit = 500
	rng := rand.New(rand.NewPCG(1, 1))
	gaveUp := false
	for range 200 {
		b := make([]byte, 400)
		for i := range b {
			b[i] = "ab"[rng.IntN(2)]
		}
		if _, ok := d.match(b); !ok {
			gaveUp = true
			break
		}
	}
	if !gaveUp {
		t.Errorf("automaton built %d states without giving up", len(d.states))
	}
	d0 := newDFA(`a.b`)
	if m, ok := d0.match([]byte("xaxb")); !ok || !m {
		t.Errorf("a.b on xaxb: %v %v, want a match", m, ok)
	}
	c := d0.clone()
	if c == nil || c.src != d0.src || len(c.states) != 0 {
		t.Fatal("clone: want a fresh automaton on the same program, not started")
	}
	if m, ok := c.match([]byte("ab")); !ok || m || len(c.states) == 0 {
		t.Errorf("clone on ab: %v %v with %d states, want no match from a started automaton", m, ok, len(c.states))
	}
	if newDFA(`(`) != nil {
		t.Error("bad expression: want nil")
	}
}

// FuzzDFA compares the automaton with Go's regexp on arbitrary
// expressions and ASCII subjects.
func FuzzDFA(f *testing.F) {
	subjects := dfaSubjects()
	for i, e := range dfaExprs {
		f.Add(e, subjects[i%len(subjects)])
	}
	f.Fuzz(func(t *testing.T, expr, subject string) {
		if len(expr) > 200 || len(subject) > 500 {
			return
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		d := newDFA(expr)
		if d == nil {
			t.Fatalf("%q compiles in regexp but not in the automaton", expr)
		}
		if !isASCII([]byte(subject)) {
			return // the automaton serves ASCII subjects only
		}
		got, ok := d.match([]byte(subject))
		if !ok {
			return // too many states: the caller asks regexp
		}
		if want := re.MatchString(subject); got != want {
			t.Errorf("%q on %q: automaton %v, regexp %v", expr, subject, got, want)
		}
	})
}
