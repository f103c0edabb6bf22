package filter

import (
	"regexp/syntax"
	"slices"
	"unicode"
)

// asciiByteClasses partitions the ASCII bytes into classes that no rune
// instruction of prog tells apart: every one matches either all bytes of
// a class or none. An automaton over ASCII text then needs a row entry
// per class, not per byte: a handful of classes where there are 128
// bytes, so the tables of a filter's automata fit in a core's first-level
// cache instead of spilling out of it. cls[c] is c's class; n the number
// of classes (at least 1).
func asciiByteClasses(prog *syntax.Prog) (cls [128]uint8, n int) {
	return refineClasses(runeSets(prog))
}

// dfaByteClasses is asciiByteClasses for dfa, whose steps also tell a
// newline and word bytes from the others when the program has an
// empty-width assertion (the context of the next position).
func dfaByteClasses(prog *syntax.Prog) (cls [128]uint8, n int) {
	sets := runeSets(prog)
	if slices.ContainsFunc(prog.Inst, func(in syntax.Inst) bool { return in.Op == syntax.InstEmptyWidth }) {
		var nl, word [2]uint64
		nl[0] = 1 << '\n'
		for c := range 128 {
			if isWordByte(c) {
				word[c/64] |= 1 << (c % 64)
			}
		}
		sets = append(sets, nl, word)
	}
	return refineClasses(sets)
}

// runeSets lists the ASCII byte sets of prog's rune instructions.
func runeSets(prog *syntax.Prog) [][2]uint64 {
	var sets [][2]uint64
	for i := range prog.Inst {
		if set, ok := asciiSetOf(&prog.Inst[i]); ok {
			sets = append(sets, set)
		}
	}
	return sets
}

// refineClasses is the coarsest partition of the ASCII bytes that splits
// none of sets' members from its non-members.
func refineClasses(sets [][2]uint64) (cls [128]uint8, n int) {
	n = 1
	seen := map[[2]uint64]bool{}
	for _, set := range sets {
		if seen[set] {
			continue
		}
		seen[set] = true
		var split [128][2]int16 // old class, in set → new class (+1)
		next := 0
		for c := range 128 {
			inSet := 0
			if set[c/64]&(1<<(c%64)) != 0 {
				inSet = 1
			}
			p := &split[cls[c]][inSet]
			if *p == 0 {
				next++
				*p = int16(next)
			}
			cls[c] = uint8(*p - 1)
		}
		n = next
	}
	return cls, n
}

// asciiSetOf is the set of ASCII bytes rune instruction in matches (as
// Inst.MatchRune decides); ok is false for other instructions.
func asciiSetOf(in *syntax.Inst) (set [2]uint64, ok bool) {
	add := func(lo, hi rune) {
		for c := max(lo, 0); c <= min(hi, 127); c++ {
			set[c/64] |= 1 << (c % 64)
		}
	}
	switch in.Op {
	case syntax.InstRuneAny:
		add(0, 127)
	case syntax.InstRuneAnyNotNL:
		add(0, '\n'-1)
		add('\n'+1, 127)
	case syntax.InstRune, syntax.InstRune1:
		r := in.Rune
		if len(r) == 1 {
			// a literal rune, with its case variants under FoldCase
			add(r[0], r[0])
			if in.Op == syntax.InstRune && syntax.Flags(in.Arg)&syntax.FoldCase != 0 {
				for f := unicode.SimpleFold(r[0]); f != r[0]; f = unicode.SimpleFold(f) {
					add(f, f)
				}
			}
			break
		}
		for j := 0; j+1 < len(r); j += 2 {
			add(r[j], r[j+1])
		}
	default:
		return set, false
	}
	return set, true
}
