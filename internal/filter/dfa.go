package filter

import (
	"regexp/syntax"
	"slices"
)

// dfa answers one question fast: does a Go expression match anywhere in
// a pure-ASCII text? It is a lazily built deterministic automaton over
// the program Go's regexp compiles, one table lookup per byte, where Go's
// own engines (backtracker, NFA) spend tens of nanoseconds per byte. It
// reports no positions and no groups: a filter uses it to reject lines,
// and to count prefregex hits, before paying for a search with captures.
//
// A state is a set of program counters not yet expanded through empty-width
// assertions, plus what the previous byte was (start of text, newline, word
// byte); the expansion happens on the next byte, when both sides of the
// position are known. States are built on first use and kept; past
// maxDFAStates the automaton gives up and callers fall back to regexp.
// Not safe for concurrent use: every worker has its own (see clone).
type dfa struct {
	prog     *syntax.Prog
	anchored bool // matches only at the start of the text

	states [][]uint32 // pcs of each state
	ctx    []uint8
	index  map[string]int32
	trans  []int32 // state*dfaStride + byte (dfaEOF for the end) → next
	failed bool    // state budget exceeded: unusable
	limit  int     // state budget (maxDFAState)

	// scratch for building states
	seen  []uint32 // generation marks per pc
	gen   uint32
	stack []uint32
	next  []uint32
	key   []byte
}

const (
	dfaEOF      = 128
	dfaStride   = 129
	dfaUnknown  = int32(-1)
	dfaMatch    = int32(-2)
	dfaDead     = int32(-3)
	maxDFAState = 3000

	ctxStart = 1
	ctxNL    = 2
	ctxWord  = 4
)

// newDFA builds the automaton's start for expr (Perl syntax, as
// regexp.Compile reads it); nil if expr does not parse.
func newDFA(expr string) *dfa {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil
	}
	d := &dfa{prog: prog, anchored: prog.StartCond()&syntax.EmptyBeginText != 0, limit: maxDFAState}
	d.reset()
	return d
}

// clone returns an automaton with the same program and an empty cache.
func (d *dfa) clone() *dfa {
	if d == nil {
		return nil
	}
	c := &dfa{prog: d.prog, anchored: d.anchored, limit: d.limit}
	c.reset()
	return c
}

func (d *dfa) reset() {
	d.states, d.ctx, d.trans = d.states[:0], d.ctx[:0], d.trans[:0]
	d.index = map[string]int32{}
	d.seen = make([]uint32, len(d.prog.Inst))
	d.gen = 0
	d.add([]uint32{uint32(d.prog.Start)}, ctxStart)
}

// add registers a state and returns its id.
func (d *dfa) add(pcs []uint32, ctx uint8) int32 {
	d.key = append(d.key[:0], ctx)
	for _, pc := range pcs {
		d.key = append(d.key, byte(pc), byte(pc>>8), byte(pc>>16), byte(pc>>24))
	}
	if id, ok := d.index[string(d.key)]; ok {
		return id
	}
	id := int32(len(d.states))
	d.states = append(d.states, slices.Clone(pcs))
	d.ctx = append(d.ctx, ctx)
	d.index[string(d.key)] = id
	for range dfaStride {
		d.trans = append(d.trans, dfaUnknown)
	}
	return id
}

func isWordByte(c int) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// step computes the transition of state s on byte c (dfaEOF: the end).
func (d *dfa) step(s int32, c int) int32 {
	ctx := d.ctx[s]
	before := rune(' ')
	switch {
	case ctx&ctxStart != 0:
		before = -1
	case ctx&ctxNL != 0:
		before = '\n'
	case ctx&ctxWord != 0:
		before = 'a'
	}
	after := rune(c)
	if c == dfaEOF {
		after = -1
	}
	flags := syntax.EmptyOpContext(before, after)
	d.gen++
	if d.gen == 0 { // wrapped: clear the marks
		clear(d.seen)
		d.gen = 1
	}
	next := d.next[:0]
	stack := append(d.stack[:0], d.states[s]...)
	matched := false
	for len(stack) > 0 && !matched {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if d.seen[pc] == d.gen {
			continue
		}
		d.seen[pc] = d.gen
		in := &d.prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Arg, in.Out)
		case syntax.InstCapture, syntax.InstNop:
			stack = append(stack, in.Out)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^flags == 0 {
				stack = append(stack, in.Out)
			}
		case syntax.InstMatch:
			matched = true
		case syntax.InstRune, syntax.InstRune1:
			if c != dfaEOF && in.MatchRune(rune(c)) {
				next = append(next, in.Out)
			}
		case syntax.InstRuneAny:
			if c != dfaEOF {
				next = append(next, in.Out)
			}
		case syntax.InstRuneAnyNotNL:
			if c != dfaEOF && c != '\n' {
				next = append(next, in.Out)
			}
		}
	}
	d.stack = stack
	if matched {
		d.next = next
		return dfaMatch
	}
	if c == dfaEOF {
		d.next = next
		return dfaDead
	}
	if !d.anchored {
		next = append(next, uint32(d.prog.Start))
	}
	slices.Sort(next)
	next = slices.Compact(next)
	d.next = next
	if len(next) == 0 {
		return dfaDead
	}
	var nctx uint8
	if c == '\n' {
		nctx |= ctxNL
	}
	if isWordByte(c) {
		nctx |= ctxWord
	}
	if len(d.states) >= d.limit {
		d.failed = true
		return dfaUnknown
	}
	return d.add(next, nctx)
}

// match reports whether the expression matches somewhere in buf; ok is
// false when the automaton cannot tell (a byte above 0x7f, or too many
// states), and the caller must ask regexp.
func (d *dfa) match(buf []byte) (matched, ok bool) {
	if d == nil || d.failed {
		return false, false
	}
	s := int32(0)
	for _, b := range buf {
		if b >= 0x80 {
			return false, false
		}
		t := d.trans[int(s)*dfaStride+int(b)]
		if t == dfaUnknown {
			if t = d.step(s, int(b)); t == dfaUnknown {
				return false, false
			}
			d.trans[int(s)*dfaStride+int(b)] = t
		}
		switch t {
		case dfaMatch:
			return true, true
		case dfaDead:
			return false, true
		}
		s = t
	}
	t := d.trans[int(s)*dfaStride+dfaEOF]
	if t == dfaUnknown {
		t = d.step(s, dfaEOF)
		d.trans[int(s)*dfaStride+dfaEOF] = t
	}
	return t == dfaMatch, true
}
