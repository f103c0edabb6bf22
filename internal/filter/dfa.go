package filter

import (
	"bytes"
	"regexp/syntax"
	"slices"
)

// dfa answers one question fast: does a Go expression match anywhere in
// a pure-ASCII text? It is a lazily built deterministic automaton over
// the program Go's regexp compiles, one transition lookup per byte (in
// the column of the byte's class), where Go's own engines (backtracker,
// NFA) spend tens of nanoseconds per byte. It reports no positions and
// no groups: a filter uses it to reject lines, and to count prefregex
// hits, before paying for a search with captures.
//
// A state is a set of program counters not yet expanded through empty-width
// assertions, plus what the previous byte was (start of text, newline, word
// byte); the expansion happens on the next byte, when both sides of the
// position are known. States are built on first use and kept; past
// maxDFAStates the automaton gives up and callers fall back to regexp.
// Even the program is compiled on the first match (src, shared with the
// clones). Not safe for concurrent use: every worker has its own (see
// clone).
type dfa struct {
	src      *lazyProg
	prog     *syntax.Prog // nil until the first match
	anchored bool         // matches only at the start of the text
	ctxMask  uint8        // the context bits the program tests (ctxNL, ctxWord)

	states [][]uint32 // pcs of each state
	ctx    []uint8
	index  map[string]int32
	// trans: state*stride + the byte's class (cls; eof for the end) →
	// the next state's row, as in firstEnd a column per class
	trans  []int32
	cls    [128]uint8
	eof    int32    // the column of the end of the text
	stride int32    // eof + 1
	failed bool     // state budget exceeded: unusable
	accel  [][]byte // per state: see escapes; nil until worked out
	limit  int      // state budget (maxDFAState)

	// scratch for building states
	seen  []uint32 // generation marks per pc
	gen   uint32
	stack []uint32
	next  []uint32
	key   []byte
}

const (
	dfaEOF      = 128 // step's byte for the end of the text
	dfaUnknown  = int32(-1)
	dfaMatch    = int32(-2)
	dfaDead     = int32(-3)
	maxDFAState = 3000

	ctxStart = 1
	ctxNL    = 2
	ctxWord  = 4
)

// dfaOf returns the automaton for re, the tree of a parsed expression;
// its program is compiled and its start built on the first match.
func dfaOf(re *syntax.Regexp) *dfa {
	return &dfa{src: newLazyProg(re), limit: maxDFAState}
}

// start compiles the program and builds the start state; false when the
// program does not compile (d is then unusable).
func (d *dfa) start() bool {
	prog := d.src.get()
	if prog == nil {
		d.failed = true
		return false
	}
	d.prog, d.anchored = prog, prog.StartCond()&syntax.EmptyBeginText != 0
	var n int
	d.cls, n = dfaByteClasses(prog)
	d.eof, d.stride = int32(n), int32(n+1)
	// remember only the context the program asks about: fewer states, and
	// states that loop on themselves (see skip)
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth {
			op := syntax.EmptyOp(in.Arg)
			if op&syntax.EmptyBeginLine != 0 {
				d.ctxMask |= ctxNL
			}
			if op&(syntax.EmptyWordBoundary|syntax.EmptyNoWordBoundary) != 0 {
				d.ctxMask |= ctxWord
			}
		}
	}
	d.reset()
	return true
}

// clone returns an automaton with the same program and an empty cache.
func (d *dfa) clone() *dfa {
	if d == nil {
		return nil
	}
	return &dfa{src: d.src, limit: d.limit}
}

func (d *dfa) reset() {
	d.states, d.ctx, d.trans, d.accel = d.states[:0], d.ctx[:0], d.trans[:0], nil
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
	for range d.stride {
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
	nctx &= d.ctxMask
	if len(d.states) >= d.limit {
		d.failed = true
		return dfaUnknown
	}
	return d.add(next, nctx)
}

// match reports whether the expression matches somewhere in buf, which
// must be pure ASCII (callers check); ok is false when the automaton
// cannot tell (too many states), and the caller must ask regexp.
func (d *dfa) match(buf []byte) (matched, ok bool) {
	if d == nil || d.failed || d.prog == nil && !d.start() {
		return false, false
	}
	// trans holds row offsets (state*stride) of known live states, and
	// negative marks. The common case costs one load and one comparison;
	// a state that loops on itself for all but a few bytes (such as
	// .+ before the end) is left with a fast search for those bytes.
	tab, cls, stride := d.trans, &d.cls, d.stride
	off := int32(0)
	for i := 0; i < len(buf); i++ {
		b := buf[i] & 0x7f
		t := tab[off+int32(cls[b])]
		if t < 0 {
			if t == dfaUnknown {
				// any byte of b's class would do
				if t = d.step(off/stride, int(b)); t == dfaUnknown {
					return false, false
				}
				if t >= 0 {
					t *= stride
				}
				d.trans[off+int32(cls[b])] = t
				tab = d.trans
			}
			switch t {
			case dfaMatch:
				return true, true
			case dfaDead:
				return false, true
			}
		}
		if t == off {
			if j := d.skip(off, buf[i+1:]); j > 0 {
				i += j
			}
			tab = d.trans // skip may have added states
		}
		off = t
	}
	t := tab[off+d.eof]
	if t == dfaUnknown {
		if t = d.step(off/stride, dfaEOF); t >= 0 {
			t *= stride
		}
		d.trans[off+d.eof] = t
	}
	return t == dfaMatch, true
}

// maxEscapes: a state is accelerated when it leaves itself on at most
// this many byte values.
const maxEscapes = 3

// skip returns how many bytes at the start of rest keep the automaton in
// state off (0 when the state is not accelerated).
func (d *dfa) skip(off int32, rest []byte) int {
	st := off / d.stride
	for int(st) >= len(d.accel) {
		d.accel = append(d.accel, nil)
	}
	esc := d.accel[st]
	if esc == nil {
		esc = d.escapes(off)
		d.accel[st] = esc
	}
	switch len(esc) {
	case 1: // "none"
		return 0
	case 2:
		if j := bytes.IndexByte(rest, esc[1]); j >= 0 {
			return j
		}
		return len(rest)
	}
	for j, c := range rest {
		if bytes.IndexByte(esc[1:], c&0x7f) >= 0 {
			return j
		}
	}
	return len(rest)
}

// escapes works out the bytes that take state off elsewhere, filling its
// row of the table; the answer is a marker byte followed by the escapes,
// or the marker alone when there are more than maxEscapes.
func (d *dfa) escapes(off int32) []byte {
	esc := []byte{0}
	for c := range int32(dfaEOF) {
		k := off + int32(d.cls[c])
		t := d.trans[k]
		if t == dfaUnknown {
			if t = d.step(off/d.stride, int(c)); t == dfaUnknown {
				return []byte{0}
			}
			if t >= 0 {
				t *= d.stride
			}
			d.trans[k] = t
		}
		if t != off {
			if esc = append(esc, byte(c)); len(esc) > maxEscapes+1 {
				return []byte{0}
			}
		}
	}
	return esc
}
