package filter

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
)

// TestASCIIByteClasses: two bytes of one class are matched alike by every
// rune instruction (as MatchRune says), and bytes one instruction tells
// apart are in different classes.
func TestASCIIByteClasses(t *testing.T) {
	for _, expr := range []string{
		`abc`,
		`(?i)user [a-z]+ from \S+`,
		`[^\t-\r\x1c- ]+\s+(?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?sshd\[\d+\]:`,
		`.+`,
		`(?s).*x`,
		`(?i)k`, // folds to K and the Kelvin sign
		`[\x00-\x7f]`,
		`\w+\W\d`,
	} {
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			t.Fatal(err)
		}
		cls, n := asciiByteClasses(prog)
		used := map[uint8]bool{}
		for c := range 128 {
			if int(cls[c]) >= n {
				t.Fatalf("%q: byte %d in class %d of %d", expr, c, cls[c], n)
			}
			used[cls[c]] = true
		}
		if len(used) != n {
			t.Errorf("%q: %d classes used of %d", expr, len(used), n)
		}
		for i := range prog.Inst {
			in := &prog.Inst[i]
			switch in.Op {
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			default:
				continue
			}
			for a := range 128 {
				for b := range 128 {
					ma, mb := in.MatchRune(rune(a)), in.MatchRune(rune(b))
					if cls[a] == cls[b] && ma != mb {
						t.Fatalf("%q: %q and %q share class %d but %v tells them apart", expr, rune(a), rune(b), cls[a], in)
					}
				}
			}
		}
		// the partition is no finer than needed: two classes differ on
		// some instruction
		rep := map[uint8]int{}
		for c := range 128 {
			if _, ok := rep[cls[c]]; !ok {
				rep[cls[c]] = c
			}
		}
		for x, a := range rep {
			for y, b := range rep {
				if x >= y {
					continue
				}
				apart := false
				for i := range prog.Inst {
					in := &prog.Inst[i]
					switch in.Op {
					case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
						apart = apart || in.MatchRune(rune(a)) != in.MatchRune(rune(b))
					}
				}
				if !apart {
					t.Errorf("%q: classes %d and %d are matched alike by every instruction", expr, x, y)
				}
			}
		}
		t.Logf("%q: %d classes", expr, n)
	}
}

// classAtoms are the pieces randomClassExpr builds from: the assertions
// dfa reads the context of a position for (newline and word bytes on
// either side), shorthand and negated classes, and case folding,
// including the non-ASCII runes that fold to ASCII letters.
var classAtoms = []string{`\b`, `\B`, `^`, `$`, `(?m:^)`, `(?m:$)`, `\A`, `\z`, `[[:punct:]]`,
	`\w`, `\W`, `\s`, `\S`, `\d`, `.`, `(?s:.)`, `(?i:k)`, `(?i:s)`, `(?i:ab)`, `[^a-z]`, `\x7f`,
	`[\x00-\x1f]`, `a`, `b`, `K`, `_`, `\n`, ` `, `-`, `\t`, `9`, `[a-cK_]`, `[^\n]`, `(?i:[a-c])`,
	`[\x{212a}]`, `(?i:\x{17f})`, `[0-9A-F]`}

// randomClassExpr is a random expression of classAtoms.
func randomClassExpr(rng *rand.Rand, depth int) string {
	if depth <= 0 || rng.IntN(3) == 0 {
		return classAtoms[rng.IntN(len(classAtoms))]
	}
	sub := func() string { return randomClassExpr(rng, depth-1) }
	switch rng.IntN(5) {
	case 0:
		return sub() + sub()
	case 1:
		return "(?:" + sub() + "|" + sub() + ")"
	case 2:
		return "(?:" + sub() + ")" + []string{"*", "+", "?", "*?", "+?", "{1,3}"}[rng.IntN(6)]
	case 3:
		return "(" + sub() + ")"
	}
	return sub() + sub() + sub()
}

// randomASCII is a short text of bytes from the whole ASCII range, one in
// four any byte, the others from a few the atoms tell apart.
func randomASCII(rng *rand.Rand) string {
	const some = "abkKsS_ 9-\n\t\x00\x7f.xyzABF"
	var b strings.Builder
	for range rng.IntN(16) {
		if rng.IntN(4) == 0 {
			b.WriteByte(byte(rng.IntN(128)))
		} else {
			b.WriteByte(some[rng.IntN(len(some))])
		}
	}
	return b.String()
}

// TestByteClassAutomata: dfa and firstEnd, whose tables have a column per
// byte class, agree with Go's regexp on random expressions and texts over
// the whole ASCII range. TestDFAAgreesWithRegexp's texts use a few byte
// values, so a byte put in the wrong class there (an upper-case letter
// left out of the word bytes \b tells apart, say) would not show.
func TestByteClassAutomata(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 3))
	dfaRuns, feRuns := 0, 0 // answers compared
	for range 2000 {
		expr := randomClassExpr(rng, 4)
		re, err := regexp.Compile(expr)
		if err != nil {
			continue
		}
		d := newDFA(expr)
		fe := newFirstEnd(parseExpr(expr)) // nil with assertions other than \z
		anchored := regexp.MustCompile(`^(?:` + expr + `)`)
		for range 40 {
			s := randomASCII(rng)
			if got, ok := d.match([]byte(s)); ok {
				dfaRuns++
				if got != re.MatchString(s) {
					t.Errorf("dfa: %q on %q: %v, regexp %v", expr, s, got, !got)
				}
			}
			if fe == nil {
				continue
			}
			from := rng.IntN(len(s) + 1)
			want := -1
			if loc := anchored.FindStringIndex(s[from:]); loc != nil {
				want = from + loc[1]
			}
			if got, ok := fe.end([]byte(s), from); ok {
				feRuns++
				if got != want {
					t.Errorf("firstEnd: %q in %q from %d: end %d, regexp %d", expr, s, from, got, want)
				}
			}
		}
	}
	// small expressions: the automata answer (almost) always
	if dfaRuns < 50000 || feRuns < 20000 {
		t.Errorf("only %d dfa and %d firstEnd answers compared", dfaRuns, feRuns)
	}
}
