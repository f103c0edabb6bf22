package filter

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"sync"
)

// chain finds the groups of an anchored expression ^S1 S2 ... Sn [\n?\z]
// on an ASCII subject without Go's backtracker walking the whole line:
// each Si is one top-level item holding groups, or a run of items holding
// none, and each has a firstEnd automaton for where its own leftmost-first
// match ends. The segments are walked in order, each from where the one
// before ended. A segment holding groups below its top (the <HOST>
// alternation with its ip4/ip6/dns groups) then has those groups read by
// a small regexp run over just the span the automaton found.
//
// Why the answer is FindSubmatchIndex's: for a concatenation, Go's regexp
// reports the first way to match in Perl's order of preference, and that
// order is lexicographic over the ways each segment matches in turn. The
// first way S1 alone can match is preferred to every other way S1 can
// match that lets the rest succeed (the ways before it do not complete
// S1). So when, from the end of S1's own first match, S2's own first
// match exists, and so on to the end, that path is the one the whole
// expression takes: the same groups, the same end. When some segment has
// no match from where the walk stands, an earlier segment's later way
// might still work, so the walk gives up (ok=false) and the caller runs
// regexp; it never answers "no match" itself.
//
// The sub-regexp for a segment's inner groups, \A(?:Si)\z over the span
// [s,e), reports the first way Si matches ending exactly at e. The first
// way Si matches at all ends at e, so no way before it ends at e (none
// before it completes): the two are the same way, with the same groups.
// That needs Si to read no context outside the span: firstEnd accepts no
// empty-width assertion, so none is in Si.
type chain struct {
	segs  []chainSeg
	ncap  int  // the expression's groups, as regexp numbers them
	endNL bool // the expression ends with \n?\z (else it ends anywhere)
	loc   []int
}

// chainSeg is one segment: its automaton, its own group when it is a
// top-level group (cap > 0), and for inner groups a regexp over its span
// (inner; sub, compiled on first use: the readers answer most spans) with
// slot[j] the expression's number of the regexp's group j.
type chainSeg struct {
	fe    *firstEnd
	cap   int
	inner *segInner // nil: no group inside
	sub   *regexp.Regexp
	slot  []int
	// alt, on a segment holding groups followed by a run without any:
	// the two as one segment, walked when the run has no match from
	// where this segment's own first match ends (a lazy (.*?) before
	// " from ", say); the walk then skips the run
	alt *chainSeg
	// caps: groups directly inside the top one, spanning the same text
	caps []int
	// lit: the run is this literal, so the group ends len(lit) before
	// the merged segment does and alt needs no sub-regexp for it
	lit int
}

// segInner is what reads the groups inside a segment, worked out on the
// first span it reads (most segments of a filter never see one) and
// shared by the clones: the expression with its classes cut to ASCII
// (classes cut to ASCII print fast, String works out case folding rune by
// rune, and read an ASCII span the same) and the reader that reads the
// groups without sub when it can (spanread.go). Safe for concurrent use.
type segInner struct {
	once   sync.Once
	re     *syntax.Regexp // as parsed; with ASCII classes once done
	reader spanReader
}

// get returns the expression with ASCII classes, and the reader if any.
func (si *segInner) get() (*syntax.Regexp, spanReader) {
	si.once.Do(func() {
		si.re = asciiClasses(si.re)
		si.reader = newSpanReader(si.re)
	})
	return si.re, si.reader
}

// chainOf recognises re, the parsed (not simplified) Go expression of the
// ASCII variant, as ^S1...Sn with an optional final \n?\z; nil for any
// other shape. The segments' automata are built on their first walk
// (lazyFirstEnd); a walk through one that cannot be built answers
// ok=false.
func chainOf(re *syntax.Regexp) *chain {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return nil
	}
	items := re.Sub[1:]
	c := &chain{ncap: re.MaxCap()}
	if n := len(items); n >= 1 && items[n-1].Op == syntax.OpEndText {
		items = items[:n-1]
		if n := len(items); n >= 1 && isOptNL(items[n-1]) {
			items = items[:n-1]
			c.endNL = true
		} else {
			return nil // a bare \z: rare, left to regexp
		}
	}
	// units: runs of items without groups, and single items with groups
	var units [][]*syntax.Regexp
	var run []*syntax.Regexp
	for _, it := range items {
		if it.MaxCap() == 0 {
			run = append(run, it)
			continue
		}
		if len(run) > 0 {
			units = append(units, run)
			run = nil
		}
		units = append(units, []*syntax.Regexp{it})
	}
	if len(run) > 0 {
		units = append(units, run)
	}
	for i, u := range units {
		sg := newChainSeg(u, re.Flags)
		if sg == nil {
			return nil
		}
		if u[0].MaxCap() > 0 && i+1 < len(units) && units[i+1][0].MaxCap() == 0 {
			next := units[i+1]
			sg.alt = newChainSeg(append([]*syntax.Regexp{u[0]}, next...), re.Flags)
			if sg.alt == nil {
				return nil
			}
			if l := next[0]; len(next) == 1 && u[0].Op == syntax.OpCapture && u[0].Sub[0].MaxCap() == 0 &&
				l.Op == syntax.OpLiteral && l.Flags&syntax.FoldCase == 0 && isASCIIRunes(l.Rune) {
				sg.alt.inner, sg.alt.slot = nil, nil
				sg.alt.cap, sg.alt.lit = u[0].Cap, len(l.Rune)
			}
		}
		c.segs = append(c.segs, *sg)
	}
	if len(c.segs) == 0 {
		return nil
	}
	return c
}

// newChainSeg builds the segment for items: one item with groups, or any
// number without; nil when its automaton or sub-regexp cannot be built.
func newChainSeg(items []*syntax.Regexp, flags syntax.Flags) *chainSeg {
	re := items[0]
	if len(items) > 1 {
		re = &syntax.Regexp{Op: syntax.OpConcat, Flags: flags, Sub: items}
	}
	sg := &chainSeg{fe: lazyFirstEnd(re)}
	if sg.fe == nil {
		return nil
	}
	inner := re
	if re.Op == syntax.OpCapture {
		sg.cap = re.Cap
		inner = re.Sub[0]
	}
	// ((X)) with no group in X: every group spans the whole segment
	for inner.Op == syntax.OpCapture {
		sg.caps = append(sg.caps, inner.Cap)
		inner = inner.Sub[0]
	}
	if inner.MaxCap() > 0 {
		sg.caps = nil
		inner = re
		if re.Op == syntax.OpCapture {
			inner = re.Sub[0]
		}
		sg.slot = append([]int{0}, capsOf(inner, nil)...)
		sg.inner = &segInner{re: inner}
	}
	return sg
}

// isASCIIRunes reports whether every rune is ASCII (one byte each).
func isASCIIRunes(rs []rune) bool {
	for _, r := range rs {
		if r >= 0x80 {
			return false
		}
	}
	return true
}

// isOptNL reports whether re is \n? (greedy).
func isOptNL(re *syntax.Regexp) bool {
	return re.Op == syntax.OpQuest && re.Flags&syntax.NonGreedy == 0 &&
		re.Sub[0].Op == syntax.OpLiteral && string(re.Sub[0].Rune) == "\n"
}

// capsOf appends re's group numbers in the order regexp numbers them
// (by opening parenthesis).
func capsOf(re *syntax.Regexp, dst []int) []int {
	if re.Op == syntax.OpCapture {
		dst = append(dst, re.Cap)
	}
	for _, s := range re.Sub {
		dst = capsOf(s, dst)
	}
	return dst
}

// clone returns a chain for another goroutine: its own segments, as
// their sub-regexps are compiled lazily, and its own scratch; the
// automata (firstEnd.clone gives the same one back: it is safe for
// concurrent use) and the compiled regexps are shared.
func (c *chain) clone() *chain {
	if c == nil {
		return nil
	}
	n := *c
	n.loc = nil
	n.segs = slices.Clone(c.segs)
	for i := range n.segs {
		n.segs[i].fe = c.segs[i].fe.clone()
		if a := c.segs[i].alt; a != nil {
			ac := *a
			ac.fe = a.fe.clone()
			n.segs[i].alt = &ac
		}
	}
	return &n
}

// find returns the expression's groups on the ASCII subject buf as
// FindSubmatchIndex would, when the walk gets through (ok); otherwise the
// caller must ask regexp. The answer is scratch space, valid until the
// next call.
func (c *chain) find(buf []byte) (loc []int, ok bool) {
	if c == nil {
		return nil, false
	}
	if n := 2 * (c.ncap + 1); len(c.loc) != n {
		c.loc = make([]int, n)
	}
	loc = c.loc
	for i := range loc {
		loc[i] = -1
	}
	pos := 0
	for i := 0; i < len(c.segs); i++ {
		sg := &c.segs[i]
		if a := sg.alt; a != nil && a.inner == nil {
			// a group then a literal: walked as one, one pass and no
			// sub-regexp (walking the group alone first would only add
			// a pass, and fails on every lazy group)
			e, ok := a.fe.end(buf, pos)
			if !ok || e < 0 {
				return nil, false
			}
			a.fill(buf, pos, e, loc)
			pos = e
			i++ // the run is walked
			continue
		}
		e, ok := sg.fe.end(buf, pos)
		if !ok || e < 0 {
			return nil, false
		}
		if sg.alt != nil {
			// the run after sg must match where sg's own match ends;
			// if not, sg and the run are walked as one segment
			if e2, ok := c.segs[i+1].fe.end(buf, e); ok && e2 >= 0 {
				if !sg.fill(buf, pos, e, loc) {
					return nil, false
				}
				pos = e2
			} else {
				a := sg.alt
				e, ok := a.fe.end(buf, pos)
				if !ok || e < 0 || !a.fill(buf, pos, e, loc) {
					return nil, false
				}
				pos = e
			}
			i++ // the run is walked
			continue
		}
		if !sg.fill(buf, pos, e, loc) {
			return nil, false
		}
		pos = e
	}
	if c.endNL {
		switch {
		case pos == len(buf):
		case pos == len(buf)-1 && buf[pos] == '\n':
			pos++
		default:
			return nil, false
		}
	}
	loc[0], loc[1] = 0, pos
	return loc, true
}

// fill sets in loc the groups of sg matched over [pos,e); false when the
// sub-regexp disagrees with the automaton (it cannot, see chain).
func (sg *chainSeg) fill(buf []byte, pos, e int, loc []int) bool {
	if sg.cap > 0 {
		loc[2*sg.cap], loc[2*sg.cap+1] = pos, e-sg.lit
	}
	for _, c := range sg.caps {
		loc[2*c], loc[2*c+1] = pos, e-sg.lit
	}
	if sg.inner == nil {
		return true
	}
	re, reader := sg.inner.get()
	if reader != nil {
		if g, lo, hi, ok := reader.read(buf[pos:e]); ok {
			if g > 0 {
				loc[2*sg.slot[g]], loc[2*sg.slot[g]+1] = pos+lo, pos+hi
			}
			return true
		}
	}
	if sg.sub == nil {
		sub, err := regexp.Compile(`\A(?:` + re.String() + `)\z`)
		if err != nil || sub.NumSubexp() != len(sg.slot)-1 {
			return false // cannot be: regexp answers instead
		}
		sg.sub = sub
	}
	sub := sg.sub.FindSubmatchIndex(buf[pos:e])
	if sub == nil {
		return false
	}
	for j := 1; j < len(sg.slot); j++ {
		if sub[2*j] >= 0 {
			loc[2*sg.slot[j]], loc[2*sg.slot[j]+1] = pos+sub[2*j], pos+sub[2*j+1]
		}
	}
	return true
}

// asciiClasses returns a copy of re with every character class cut down
// to its ASCII part: the same matches on ASCII text.
func asciiClasses(re *syntax.Regexp) *syntax.Regexp {
	c := *re
	if re.Op == syntax.OpCharClass {
		c.Rune = nil
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if lo, hi := re.Rune[i], min(re.Rune[i+1], 0x7f); lo <= hi {
				c.Rune = append(c.Rune, lo, hi)
			}
		}
		if c.Rune == nil {
			c.Op = syntax.OpNoMatch
		}
	}
	if len(re.Sub) > 0 {
		c.Sub = make([]*syntax.Regexp, len(re.Sub))
		for i, s := range re.Sub {
			c.Sub[i] = asciiClasses(s)
		}
	}
	return &c
}
