package filter

import (
	"regexp/syntax"
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
