package filter

import (
	"regexp/syntax"
	"slices"
)

// firstEnd finds where the match Go's regexp would report for an anchored
// expression ends: the leftmost-first match, Perl's order of preference,
// on a pure-ASCII text. It is a lazily built automaton like dfa, but its
// states are *ordered* lists of threads, highest preference first, as in
// a Pike VM: when a thread reaches the match, the threads after it (less
// preferred) are dropped, the position is noted, and the threads before
// it (more preferred) run on; a later match can only come from those, so
// the last position noted when no thread is left is the end of the match
// the backtracker would pick. One table lookup per byte, and the walk
// stops as soon as no thread is left, usually a few bytes after the match.
//
// Of the empty-width assertions only \z (the end of the text; $ outside
// multi-line mode) is accepted, so a thread list does not depend on the
// bytes around it; the caller anchors the expression by starting at a
// given position. A thread at \z goes no further while bytes follow; at
// the end of the text nothing can be read any more, so the state's threads
// (all preferred to any match noted before) match there if one of them
// reaches the match through its \z: each state knows whether one does
// (feEnd). Not safe for concurrent use (see clone).
type firstEnd struct {
	prog  *syntax.Prog
	lists [][]uint32 // each state's threads: pcs of rune instructions, in order
	info  []uint8    // per state: feMatch | feLast | feEnd
	index map[string]int32
	// trans: state*feStride + byte → the next state's row (its number
	// times feStride) with its info bits in the low bits, or feUnknown /
	// feDead; one load per byte gives both
	trans  []int32
	failed bool // state budget exceeded: unusable

	seen  []uint32 // generation marks per pc
	gen   uint32
	stack []uint32
	roots []uint32
	list  []uint32
	key   []byte
}

// info bits of a state
const (
	feMatch = 1 // the match is reached here
	feLast  = 2 // no thread left: the walk ends here
	feEnd   = 4 // the match is reached here if this is the end of the text
)

const (
	feStride   = 128
	feUnknown  = int32(-1)
	feDead     = int32(-2) // no thread left and no match
	maxFEState = 2000
)

// newFirstEnd compiles re; nil when it holds an empty-width assertion
// other than \z or does not compile.
func newFirstEnd(re *syntax.Regexp) *firstEnd {
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg) != syntax.EmptyEndText {
			return nil
		}
	}
	fe := &firstEnd{prog: prog}
	fe.reset()
	if fe.failed || len(fe.lists) == 0 {
		return nil // too big, or no match from anywhere (\zb)
	}
	return fe
}

func (fe *firstEnd) reset() {
	fe.lists, fe.info, fe.trans = fe.lists[:0], fe.info[:0], fe.trans[:0]
	fe.index = map[string]int32{}
	fe.seen = make([]uint32, len(fe.prog.Inst))
	fe.gen = 0
	fe.failed = false
	fe.roots = append(fe.roots[:0], uint32(fe.prog.Start))
	fe.state() // the start is state 0
}

// clone returns an automaton for the same expression with an empty cache.
func (fe *firstEnd) clone() *firstEnd {
	if fe == nil {
		return nil
	}
	c := &firstEnd{prog: fe.prog}
	c.reset()
	return c
}

// nullable reports whether the expression matches the empty text.
func (fe *firstEnd) nullable() bool { return fe.info[0]&feMatch != 0 }

// state follows fe.roots, in order, through the instructions that consume
// nothing, and returns the state for the threads found (feDead if none
// and no match; feUnknown past the state budget).
func (fe *firstEnd) state() int32 {
	fe.nextGen()
	list := fe.list[:0]
	matched := false
	for _, r := range fe.roots {
		stack := append(fe.stack[:0], r)
		for len(stack) > 0 && !matched {
			pc := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if fe.seen[pc] == fe.gen {
				continue
			}
			fe.seen[pc] = fe.gen
			in := &fe.prog.Inst[pc]
			switch in.Op {
			case syntax.InstAlt, syntax.InstAltMatch:
				stack = append(stack, in.Arg, in.Out) // Out is preferred: on top
			case syntax.InstCapture, syntax.InstNop:
				stack = append(stack, in.Out)
			case syntax.InstMatch:
				matched = true // less preferred threads are cut
			case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
				list = append(list, pc)
			}
			// InstEmptyWidth (\z): not passed while bytes follow
		}
		fe.stack = stack
		if matched {
			break
		}
	}
	fe.list = list
	atEnd := !matched && fe.endMatch()
	if len(list) == 0 && !matched && !atEnd {
		return feDead
	}
	fe.key = fe.key[:0]
	switch {
	case matched:
		fe.key = append(fe.key, 1)
	case atEnd:
		fe.key = append(fe.key, 2)
	default:
		fe.key = append(fe.key, 0)
	}
	for _, pc := range list {
		fe.key = append(fe.key, byte(pc), byte(pc>>8), byte(pc>>16))
	}
	if id, ok := fe.index[string(fe.key)]; ok {
		return id
	}
	if len(fe.lists) >= maxFEState {
		fe.failed = true
		return feUnknown
	}
	id := int32(len(fe.lists))
	fe.lists = append(fe.lists, slices.Clone(list))
	var info uint8
	if matched {
		info |= feMatch
	}
	if len(list) == 0 {
		info |= feLast
	}
	if atEnd {
		info |= feEnd
	}
	fe.info = append(fe.info, info)
	fe.index[string(fe.key)] = id
	for range feStride {
		fe.trans = append(fe.trans, feUnknown)
	}
	return id
}

// nextGen starts a walk: a new generation of seen marks (cleared when
// the counter wraps).
func (fe *firstEnd) nextGen() {
	fe.gen++
	if fe.gen == 0 {
		clear(fe.seen)
		fe.gen = 1
	}
}

// endMatch reports whether a thread of fe.roots reaches the match through
// the instructions that consume nothing, \z passing (the text ends here).
func (fe *firstEnd) endMatch() bool {
	fe.nextGen()
	stack := append(fe.stack[:0], fe.roots...)
	defer func() { fe.stack = stack[:0] }()
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if fe.seen[pc] == fe.gen {
			continue
		}
		fe.seen[pc] = fe.gen
		in := &fe.prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Arg, in.Out)
		case syntax.InstCapture, syntax.InstNop, syntax.InstEmptyWidth:
			stack = append(stack, in.Out)
		case syntax.InstMatch:
			return true
		}
	}
	return false
}

// step computes state s's transition on ASCII byte c.
func (fe *firstEnd) step(s int32, c byte) int32 {
	roots := fe.roots[:0]
	for _, pc := range fe.lists[s] {
		in := &fe.prog.Inst[pc]
		ok := false
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1:
			ok = in.MatchRune(rune(c))
		case syntax.InstRuneAny:
			ok = true
		case syntax.InstRuneAnyNotNL:
			ok = c != '\n'
		}
		if ok {
			roots = append(roots, in.Out)
		}
	}
	fe.roots = roots
	if len(roots) == 0 {
		return feDead
	}
	return fe.state()
}

// end returns where the leftmost-first match starting at from ends in
// buf, or -1 when there is none; ok is false when the automaton cannot
// tell (a byte ≥ 0x80, or too many states) and the caller must ask regexp.
func (fe *firstEnd) end(buf []byte, from int) (end int, ok bool) {
	if fe == nil || fe.failed {
		return 0, false
	}
	end = -1
	if fe.info[0]&feMatch != 0 {
		end = from
	}
	if fe.info[0]&feLast != 0 {
		if fe.info[0]&feEnd != 0 && from == len(buf) {
			end = from
		}
		return end, true
	}
	trans := fe.trans
	row := int32(0) // the current state's row in trans
	for i := from; i < len(buf); i++ {
		c := buf[i]
		if c >= 0x80 {
			return 0, false
		}
		t := trans[row+int32(c)]
		if t < 0 {
			if t == feDead {
				return end, true
			}
			id := fe.step(row/feStride, c)
			switch id {
			case feUnknown:
				return 0, false
			case feDead:
				fe.trans[row+int32(c)] = feDead
				return end, true
			}
			t = id*feStride | int32(fe.info[id])
			fe.trans[row+int32(c)] = t
			trans = fe.trans
		}
		row = t &^ (feStride - 1)
		if f := t & (feStride - 1); f != 0 {
			if f&feMatch != 0 {
				end = i + 1
			}
			if f&feLast != 0 {
				if f&feEnd != 0 && i+1 == len(buf) {
					end = i + 1
				}
				return end, true
			}
		}
	}
	if fe.info[row/feStride]&feEnd != 0 {
		end = len(buf) // the text ends in a state that matches there
	}
	return end, true
}
