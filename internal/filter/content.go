package filter

import (
	"bytes"
	"regexp"
	"regexp/syntax"
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
	prefix, err := regexp.Compile(pre.String())
	if err != nil || prefix.NumSubexp() != c.Cap-1 {
		return nil
	}
	return &contentSplit{prefix: prefix, content: c.Cap}
}

// find returns the whole expression's groups on buf, as
// FindSubmatchIndex would, when the shortcut applies (ok), else ok=false.
// buf must be ASCII ('.' then takes any byte but '\n').
func (cs *contentSplit) find(buf []byte) (loc []int, ok bool) {
	end := len(buf) - 1 // the end of the line
	if end < 1 || buf[end] != '\n' || bytes.IndexByte(buf[:end], '\n') >= 0 {
		return nil, false
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
