package filter

import (
	"regexp/syntax"
	"slices"
	"sync"
	"sync/atomic"
)

// firstEnd finds where the match Go's regexp would report for an anchored
// expression ends: the leftmost-first match, Perl's order of preference,
// on a pure-ASCII text. It is a lazily built automaton like dfa, but its
// states are *ordered* lists of threads, highest preference first, as in
// a Pike VM: when a thread reaches the match, the threads after it (less
// preferred) are dropped, the position is noted, and the threads before
// it (more preferred) run on; a later match can only come from those, so
// the last position noted when no thread is left is the end of the match
// the backtracker would pick. One transition lookup per byte (in the
// column of the byte's class), and the walk stops as soon as no thread is
// left, usually a few bytes after the match.
//
// Of the empty-width assertions only \z (the end of the text; $ outside
// multi-line mode) is accepted, so a thread list does not depend on the
// bytes around it; the caller anchors the expression by starting at a
// given position. A thread at \z goes no further while bytes follow; at
// the end of the text nothing can be read any more, so the state's threads
// (all preferred to any match noted before) match there if one of them
// reaches the match through its \z: each state knows whether one does
// (feEnd).
//
// Safe for concurrent use: the workers of ProcessSeq share one automaton
// (clone gives the same one back). end reads the table through an atomic
// pointer, each entry with an atomic load; states are built under mu, and
// an entry is written (atomically) only once the state it leads to is in
// the table a reader can reach it through. A table that must grow is
// copied into one twice as large, filled with feUnknown past the copy,
// and published; a reader still on the old one finds only entries known
// then, and goes to mu for the rest. With a copy per worker the walks on
// two workers took 50-70% more CPU than on one, even on a single core:
// two sets of tables did not stay in the caches where one does
// (bench/README, regex round 15).
type firstEnd struct {
	src    *lazyProg
	once   sync.Once // start: the program and the start state
	prog   *syntax.Prog
	tab    atomic.Pointer[feTable]
	failed atomic.Bool // state budget exceeded, or no start: unusable
	// cls maps a byte to its class (asciiByteClasses), the column of
	// trans it reads; a row has 1<<shift entries. Set by start.
	cls   [128]uint8
	shift uint

	mu    sync.Mutex // builds states; guards what follows
	lists [][]uint32 // each state's threads: pcs of rune instructions, in order
	index map[string]int32
	seen  []uint32 // generation marks per pc
	gen   uint32
	stack []uint32
	roots []uint32
	list  []uint32
	key   []byte
}

// feTable is what end reads. trans: state<<shift + the byte's class →
// the next state's row (its number<<shift) with its info bits in the low
// bits, or feUnknown / feDead; one load per byte gives both. A row has
// an entry per byte class rather than per byte: with 128 entries (512
// bytes) a row, the tables of sshd's automata did not stay in the first-
// level cache, and a walk took twice as long per byte on the 1M-line
// auth.log as on one line run again (bench/README, regex round 18). info: per
// state, feMatch | feLast | feEnd. Both have room for more states than
// the automaton has (entries feUnknown); a state's row and info are
// written before any entry that leads to it.
type feTable struct {
	trans []int32
	info  []uint8
}

// info bits of a state
const (
	feMatch = 1 // the match is reached here
	feLast  = 2 // no thread left: the walk ends here
	feEnd   = 4 // the match is reached here if this is the end of the text
)

const (
	feInfo     = 7 // the info bits of a trans entry
	feUnknown  = int32(-1)
	feDead     = int32(-2) // no thread left and no match
	maxFEState = 2000
)

// newFirstEnd compiles re and builds the start state; nil when re holds
// an empty-width assertion other than \z, does not compile, or the start
// cannot be built.
func newFirstEnd(re *syntax.Regexp) *firstEnd {
	fe := lazyFirstEnd(re)
	if fe == nil {
		return nil
	}
	fe.once.Do(fe.start)
	if fe.failed.Load() {
		return nil
	}
	return fe
}

// lazyFirstEnd returns the automaton for re, compiled and started on the
// first walk (a walk then answers ok=false if it cannot be, as when
// newFirstEnd says nil); nil at once when re holds an empty-width
// assertion other than \z.
func lazyFirstEnd(re *syntax.Regexp) *firstEnd {
	if !onlyEndText(re) {
		return nil
	}
	return &firstEnd{src: newLazyProg(re)}
}

// onlyEndText reports whether the only empty-width assertion in re, if
// any, is \z.
func onlyEndText(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return false
	}
	for _, s := range re.Sub {
		if !onlyEndText(s) {
			return false
		}
	}
	return true
}

// start compiles the program and builds the start state, state 0; on
// any failure fe is marked failed. Run once, through fe.once.
func (fe *firstEnd) start() {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	prog := fe.src.get()
	if prog == nil {
		fe.failed.Store(true)
		return
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg) != syntax.EmptyEndText {
			fe.failed.Store(true)
			return
		}
	}
	fe.prog, fe.index, fe.seen = prog, map[string]int32{}, make([]uint32, len(prog.Inst))
	var n int
	fe.cls, n = asciiByteClasses(prog)
	fe.shift = 3 // room for the info bits
	for 1<<fe.shift < n {
		fe.shift++
	}
	fe.roots = []uint32{uint32(prog.Start)}
	fe.tab.Store(&feTable{})
	fe.state() // the start is state 0
	if len(fe.lists) == 0 {
		fe.failed.Store(true) // no match from anywhere (\zb)
	}
}

// clone returns fe itself: the automaton is safe for concurrent use, and
// its workers share what it has built.
func (fe *firstEnd) clone() *firstEnd { return fe }

// nullable reports whether the expression matches the empty text.
// fe must be started (newFirstEnd).
func (fe *firstEnd) nullable() bool { return fe.tab.Load().info[0]&feMatch != 0 }

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
		fe.failed.Store(true)
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
	tab := fe.tab.Load()
	if int(id) >= len(tab.info) {
		// a larger table, published before any entry leads to the state;
		// readers of the old one see its entries, which stay valid
		n := max(8, 2*len(tab.info))
		nt := &feTable{trans: make([]int32, n<<fe.shift), info: make([]uint8, n)}
		for i := range tab.trans {
			nt.trans[i] = atomic.LoadInt32(&tab.trans[i])
		}
		for i := len(tab.trans); i < len(nt.trans); i++ {
			nt.trans[i] = feUnknown
		}
		copy(nt.info, tab.info)
		nt.info[id] = info
		fe.tab.Store(nt)
	} else {
		tab.info[id] = info // read only through an entry stored after this
	}
	fe.index[string(fe.key)] = id
	return id
}

// learn works out state row>>shift's entry for c under mu, or finds it
// known already (built by another worker, or in a newer table than the
// caller read): the entry, feDead, or feUnknown (budget exceeded).
func (fe *firstEnd) learn(row int32, c byte) int32 {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	at := row + int32(fe.cls[c])
	if t := atomic.LoadInt32(&fe.tab.Load().trans[at]); t != feUnknown {
		return t
	}
	id := fe.step(row>>fe.shift, c) // any byte of c's class would do
	t := id
	switch id {
	case feUnknown:
		return feUnknown
	case feDead:
	default:
		t = id<<fe.shift | int32(fe.tab.Load().info[id])
	}
	atomic.StoreInt32(&fe.tab.Load().trans[at], t)
	return t
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
	if fe == nil {
		return 0, false
	}
	fe.once.Do(fe.start)
	if fe.failed.Load() {
		return 0, false
	}
	tab := fe.tab.Load()
	end = -1
	if tab.info[0]&feMatch != 0 {
		end = from
	}
	if tab.info[0]&feLast != 0 {
		if tab.info[0]&feEnd != 0 && from == len(buf) {
			end = from
		}
		return end, true
	}
	trans, cls := tab.trans, &fe.cls
	row := int32(0) // the current state's row in trans
	for i := from; i < len(buf); i++ {
		c := buf[i]
		if c >= 0x80 {
			return 0, false
		}
		t := atomic.LoadInt32(&trans[row+int32(cls[c])])
		if t < 0 {
			if t == feDead {
				return end, true
			}
			switch t = fe.learn(row, c); t {
			case feUnknown:
				return 0, false
			case feDead:
				return end, true
			}
			tab = fe.tab.Load()
			trans = tab.trans
		}
		row = t &^ feInfo
		if f := t & feInfo; f != 0 {
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
	if tab.info[row>>fe.shift]&feEnd != 0 {
		end = len(buf) // the text ends in a state that matches there
	}
	return end, true
}
