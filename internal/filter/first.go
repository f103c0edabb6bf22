package filter

import "regexp/syntax"

// byteSet is a set of byte values.
type byteSet [256]bool

// firstBytesOf works out, for an expression (its simplified tree)
// anchored at the start of the text, which bytes a match can begin with;
// nil when it is not anchored or any byte may do. Patterns that fail on
// their first byte are then skipped without starting the engine.
func firstBytesOf(re *syntax.Regexp) *byteSet {
	var rest []*syntax.Regexp
	switch {
	case re.Op == syntax.OpConcat && len(re.Sub) > 0 && re.Sub[0].Op == syntax.OpBeginText:
		rest = re.Sub[1:]
	default:
		return nil
	}
	var set byteSet
	if canBeEmpty := firstOfSeq(rest, &set); canBeEmpty {
		return nil
	}
	return &set
}

// firstOfSeq adds to set the first bytes of a sequence and reports whether
// the sequence can match the empty string.
func firstOfSeq(seq []*syntax.Regexp, set *byteSet) bool {
	for _, r := range seq {
		if !firstOf(r, set) {
			return false
		}
	}
	return true
}

// firstOf adds to set the bytes a match of re can start with and reports
// whether re can match without consuming anything.
func firstOf(re *syntax.Regexp, set *byteSet) bool {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return true
		}
		addRune(set, re.Rune[0], re.Flags&syntax.FoldCase != 0)
		return false
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			for c := lo; c <= hi && c < 0x80; c++ {
				set[c] = true
			}
			if hi >= 0x80 {
				addHigh(set)
			}
		}
		return false
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		for c := range set {
			if c != '\n' || re.Op == syntax.OpAnyChar {
				set[c] = true
			}
		}
		return false
	case syntax.OpCapture, syntax.OpPlus:
		return firstOf(re.Sub[0], set)
	case syntax.OpStar, syntax.OpQuest:
		firstOf(re.Sub[0], set)
		return true
	case syntax.OpRepeat:
		empty := firstOf(re.Sub[0], set)
		return empty || re.Min == 0
	case syntax.OpConcat:
		return firstOfSeq(re.Sub, set)
	case syntax.OpAlternate:
		empty := false
		for _, s := range re.Sub {
			if firstOf(s, set) {
				empty = true
			}
		}
		return empty
	case syntax.OpNoMatch:
		return false
	}
	// empty-width assertions and the empty match: nothing consumed
	return true
}

func addRune(set *byteSet, r rune, fold bool) {
	if r >= 0x80 {
		addHigh(set)
		return
	}
	set[r] = true
	if fold {
		switch {
		case r >= 'a' && r <= 'z':
			set[r-'a'+'A'] = true
		case r >= 'A' && r <= 'Z':
			set[r-'A'+'a'] = true
		}
		if r == 'k' || r == 'K' || r == 's' || r == 'S' {
			addHigh(set) // Kelvin sign, long s
		}
	}
}

func addHigh(set *byteSet) {
	for c := 0x80; c < 0x100; c++ {
		set[c] = true
	}
}
