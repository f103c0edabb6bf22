package filter

import (
	"regexp/syntax"
	"unicode/utf8"
)

// spanReader reads the groups inside a chain segment over the span its
// automaton found, in place of the segment's sub-regexp \A(?:S)\z (a
// backtracking search and a new []int per call). read returns the
// sub-regexp's group that took part (0: none did) and its bounds in t, t
// being the whole span; ok is false when the reader cannot tell, and the
// sub-regexp answers. The readers serve segments with at most one group
// taking part in any match.
type spanReader interface {
	read(t []byte) (group, lo, hi int, ok bool)
}

var (
	_ spanReader = (*hostReader)(nil)
	_ spanReader = (*fixedAltReader)(nil)
	_ spanReader = (*optGroupReader)(nil)
)

// newSpanReader returns a reader for inner (the segment's expression as
// its sub-regexp reads it, classes cut to ASCII) when it has one of the
// shapes the readers know; nil otherwise.
func newSpanReader(inner *syntax.Regexp) spanReader {
	if h := newHostReader(inner); h != nil {
		return h
	}
	if r := newFixedAltReader(inner); r != nil {
		return r
	}
	if r := newOptGroupReader(inner); r != nil {
		return r
	}
	return nil
}

// fixedAltReader serves an alternation whose first branches each match one
// fixed text, with at most one group inside (at a fixed place), and whose
// other branches hold no group: (publickey)|\S+ in sshd's "Failed"
// failregex, and a lone fixed branch such as Received (disconnect). The
// first way to match the whole span is in the first fixed branch whose
// text is the span; if none is, it is in a later branch, which sets no
// group. (The span is matched somehow: the automaton found it.)
type fixedAltReader struct {
	texts  []string
	groups []fixedGroup
}

// fixedGroup is the group inside a fixed text: sub-regexp group n over
// [lo,hi) of the text (n 0 when there is none).
type fixedGroup struct{ n, lo, hi int }

func newFixedAltReader(inner *syntax.Regexp) *fixedAltReader {
	branches := []*syntax.Regexp{inner}
	if inner.Op == syntax.OpAlternate {
		branches = inner.Sub
	}
	r := &fixedAltReader{}
	caps := 0 // the sub-regexp numbers groups by opening parenthesis
	free := false
	for _, b := range branches {
		if free {
			if b.MaxCap() > 0 {
				return nil
			}
			continue
		}
		var text []byte
		g := fixedGroup{}
		if !fixedText(b, &text, &g, &caps) {
			if b.MaxCap() > 0 {
				return nil
			}
			free = true
			continue
		}
		r.texts = append(r.texts, string(text))
		r.groups = append(r.groups, g)
	}
	if len(r.texts) == 0 {
		return nil
	}
	return r
}

// fixedText appends to text the one text re matches, noting the group
// inside it in g (counting groups in *caps); false when re can match more
// than one text, is case-folded, or holds more than one group.
func fixedText(re *syntax.Regexp, text *[]byte, g *fixedGroup, caps *int) bool {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return true
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return false
		}
		for _, r := range re.Rune {
			*text = utf8.AppendRune(*text, r)
		}
		return true
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !fixedText(s, text, g, caps) {
				return false
			}
		}
		return true
	case syntax.OpCapture:
		*caps++
		if g.n != 0 || re.Sub[0].MaxCap() > 0 {
			return false
		}
		n, lo := *caps, len(*text)
		if !fixedText(re.Sub[0], text, g, caps) {
			return false
		}
		*g = fixedGroup{n, lo, len(*text)}
		return true
	}
	return false
}

func (r *fixedAltReader) read(t []byte) (group, lo, hi int, ok bool) {
	for i, s := range r.texts {
		if string(t) == s {
			g := r.groups[i]
			return g.n, g.lo, g.hi, true
		}
	}
	return 0, 0, 0, true
}

// optGroupReader serves (X)? and (X)?? with X holding no group and
// matching no empty text: a span that is not empty is X's, the group
// spanning it; an empty one skips X.
type optGroupReader struct{}

func newOptGroupReader(inner *syntax.Regexp) *optGroupReader {
	if inner.Op != syntax.OpQuest {
		return nil
	}
	c := inner.Sub[0]
	if c.Op != syntax.OpCapture || c.Sub[0].MaxCap() > 0 || firstOf(c.Sub[0], new(byteSet)) { // X may match the empty text
		return nil
	}
	return &optGroupReader{}
}

func (optGroupReader) read(t []byte) (group, lo, hi int, ok bool) {
	if len(t) == 0 {
		return 0, 0, 0, true
	}
	return 1, 0, len(t), true
}
