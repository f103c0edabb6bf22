package filter

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"slices"
)

// contentSplit finds the groups of a prefregex of the shape every
// fail2ban filter built on __prefix_line has, ^X(?P<content>.+)$, without
// running the whole expression over the whole line: the search with
// captures costs per byte, and the content is most of the line.
//
// Why the result is the same: on a buffer of one line L (no '\n') plus the
// final '\n' that fillBuf adds, the tail (.+)\n?\z succeeds after a match
// of X ending at k exactly when k < len(L) ('.' takes every byte but '\n';
// greedy, it runs to the end of L, then \n?\z takes the '\n'). Go's regexp
// picks, among the ways X can match, the first in Perl's priority order
// whose continuation succeeds; ^X alone picks the first in the same order.
// So when ^X's own match ends before the end of L, the whole expression
// takes that very path: the same groups in X, content = [k, len(L)), whole
// match = the buffer. Otherwise (X reaches the end of L, or the buffer is
// not one line) the whole expression runs as before.
type contentSplit struct {
	prefix  *regexp.Regexp // ^X, with X's groups numbered as in the whole
	content int            // the index of the content group: the last one
	// segs, when set, find X's match without regexp (see splitSegments)
	segs []splitSeg
	loc  []int // scratch for find's answer on that path
	// empty: every segment can match the empty text, so X matches at 0
	// with nothing (then the whole matches any line of one byte or more)
	empty bool
}

// splitSeg is one piece of X: a capturing group (cap > 0), which may be
// optional (greedy ?), or a run of items without groups (cap 0), with the
// automaton for its match end.
type splitSeg struct {
	cap int
	opt bool // (S)?: when S cannot match here, the group is unset and empty
	fe  *firstEnd
}

// newContentSplit recognises expr (Go syntax, the ASCII variant) as
// ^X(.+)\n?\z with the content group last; nil for any other shape.
func newContentSplit(expr string) *contentSplit {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat {
		return nil
	}
	s := re.Sub
	n := len(s)
	if n < 4 || s[0].Op != syntax.OpBeginText || s[n-1].Op != syntax.OpEndText {
		return nil
	}
	nl := s[n-2]
	if nl.Op != syntax.OpQuest || nl.Flags&syntax.NonGreedy != 0 || nl.Sub[0].Op != syntax.OpLiteral || string(nl.Sub[0].Rune) != "\n" {
		return nil
	}
	c := s[n-3]
	if c.Op != syntax.OpCapture || c.Sub[0].Op != syntax.OpPlus || c.Sub[0].Flags&syntax.NonGreedy != 0 ||
		c.Sub[0].Sub[0].Op != syntax.OpAnyCharNotNL {
		return nil
	}
	if c.Cap != re.MaxCap() {
		return nil // the content group must be the last
	}
	pre := &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: s[:n-3]}
	// classes cut to ASCII print fast (String works out case folding
	// rune by rune over a class such as \S) and read ASCII the same
	prefix, err := regexp.Compile(asciiClasses(pre).String())
	if err != nil || prefix.NumSubexp() != c.Cap-1 {
		return nil
	}
	cs := &contentSplit{prefix: prefix, content: c.Cap, segs: splitSegments(s[1 : n-3])}
	cs.empty = cs.segs != nil
	for _, sg := range cs.segs {
		cs.empty = cs.empty && (sg.opt || sg.fe.nullable())
	}
	return cs
}

// splitSegments cuts X (its items, after ^) into segments for firstEnd,
// or returns nil when X is not of the shape this is exact for:
//
//   - every group of X is a top-level item with no group inside, and no
//     item holds an empty-width assertion;
//   - every segment after the first matches the empty text.
//
// Then every way the first segment can match leaves the rest a way to
// match (the empty one), so the path Go's regexp takes through X (the
// first, in Perl's order, that lets the rest succeed) takes the first
// segment's own leftmost-first match, then the second's from there, and so
// on: each segment's groups and end follow from firstEnd alone. X as a
// whole then either ends before the end of the line, and the content
// split applies as before, or it does not, and the caller falls back.
// (__prefix_line: the <F-MLFID> group, then the optional "error: " part.)
func splitSegments(items []*syntax.Regexp) []splitSeg {
	var segs []splitSeg
	var run []*syntax.Regexp
	flush := func() bool {
		if len(run) == 0 {
			return true
		}
		fe := newFirstEnd(&syntax.Regexp{Op: syntax.OpConcat, Sub: run})
		run = nil
		if fe == nil {
			return false
		}
		segs = append(segs, splitSeg{fe: fe})
		return true
	}
	for _, it := range items {
		opt := it.Op == syntax.OpQuest && it.Flags&syntax.NonGreedy == 0 && it.Sub[0].Op == syntax.OpCapture
		if opt {
			it = it.Sub[0]
		}
		if it.Op == syntax.OpCapture {
			if it.Sub[0].MaxCap() > 0 || !flush() {
				return nil
			}
			fe := newFirstEnd(it.Sub[0])
			if fe == nil {
				return nil
			}
			segs = append(segs, splitSeg{cap: it.Cap, opt: opt, fe: fe})
			continue
		}
		if it.MaxCap() > 0 {
			return nil
		}
		run = append(run, it)
	}
	if !flush() || len(segs) == 0 {
		return nil
	}
	for _, sg := range segs[1:] {
		if !sg.opt && !sg.fe.nullable() {
			return nil
		}
	}
	return segs
}

// clone returns a split for another goroutine: its own scratch (loc);
// the automata are shared (firstEnd.clone gives the same one back: it is
// safe for concurrent use).
func (cs *contentSplit) clone() *contentSplit {
	if cs == nil {
		return nil
	}
	c := *cs
	c.loc = nil
	c.segs = slices.Clone(cs.segs)
	for i := range c.segs {
		c.segs[i].fe = cs.segs[i].fe.clone()
	}
	return &c
}

// prefixEnd runs the segments over buf: X's end and, in loc (when not
// nil), the groups of X. matched is false when X cannot match; ok is
// false when the automata cannot tell.
func (cs *contentSplit) prefixEnd(buf []byte, loc []int) (end int, matched, ok bool) {
	if cs.segs == nil {
		return 0, false, false
	}
	pos := 0
	for _, sg := range cs.segs {
		e, ok := sg.fe.end(buf, pos)
		if !ok {
			return 0, false, false
		}
		if e < 0 && sg.opt {
			continue // the group stays unset
		}
		if e < 0 {
			return 0, false, true // only the first segment can fail
		}
		if sg.cap > 0 && loc != nil {
			loc[2*sg.cap], loc[2*sg.cap+1] = pos, e
		}
		pos = e
	}
	return pos, true, true
}

// matches reports whether the whole expression matches buf, when the
// segments can tell (ok).
func (cs *contentSplit) matches(buf []byte) (matched, ok bool) {
	end := len(buf) - 1
	if end < 1 || buf[end] != '\n' || bytes.IndexByte(buf[:end], '\n') >= 0 {
		return false, false
	}
	if cs.empty {
		// X matching nothing at 0 leaves the whole line to the content;
		// which way the search would go does not matter for yes or no
		return true, true
	}
	e, m, ok := cs.prefixEnd(buf, nil)
	switch {
	case !ok:
		return false, false
	case !m:
		return false, true
	case e >= end:
		return false, false
	}
	return true, true
}

// find returns the whole expression's groups on buf, as
// FindSubmatchIndex would, when the shortcut applies (ok), else ok=false.
// buf must be ASCII ('.' then takes any byte but '\n'). The answer may be
// scratch space, valid until the next call.
func (cs *contentSplit) find(buf []byte) (loc []int, ok bool) {
	end := len(buf) - 1 // the end of the line
	if end < 1 || buf[end] != '\n' || bytes.IndexByte(buf[:end], '\n') >= 0 {
		return nil, false
	}
	if cs.segs != nil {
		if len(cs.loc) != 2*(cs.content+1) {
			cs.loc = make([]int, 2*(cs.content+1))
		}
		loc = cs.loc
		for i := range loc {
			loc[i] = -1
		}
		e, m, ok := cs.prefixEnd(buf, loc)
		switch {
		case ok && !m:
			return nil, true
		case ok && e < end:
			loc[0], loc[1] = 0, len(buf)
			loc[2*cs.content], loc[2*cs.content+1] = e, end
			return loc, true
		case ok:
			return nil, false
		}
	}
	pl := cs.prefix.FindSubmatchIndex(buf)
	if pl == nil {
		return nil, true // no match of ^X: no match at all
	}
	if pl[1] >= end {
		return nil, false
	}
	loc = make([]int, 2*(cs.content+1))
	copy(loc, pl)
	loc[1] = len(buf)
	loc[2*cs.content], loc[2*cs.content+1] = pl[1], end
	return loc, true
}
