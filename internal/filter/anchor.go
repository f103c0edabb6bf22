package filter

import "bytes"

// anchorScan is a second way to run a litSet's scan: each literal is
// looked for only where its rarest byte (its anchor) occurs. The loop over
// the buffer then tests one table entry per byte with no state carried
// from byte to byte, and compares a literal only at the few anchor hits,
// where the automaton's dependent table walk costs a load's latency per
// byte. It finds exactly the same literals: every occurrence of a literal
// has its anchor byte at a fixed offset.
type anchorScan struct {
	cand [256]uint8 // byte → 1 + index into heads; 0: no literal anchored there
	// heads[i] lists the literals anchored on one byte value.
	heads [][]anchorLit
	// near[i] filters heads[i]'s hits by a neighbour byte (see neighbours)
	near []neighbour
}

// neighbour is a second test at an anchor hit, before any literal is
// compared: the byte at offset by from the anchor must be in set. by is 0
// when the head's literals share no neighbour position (no test).
type neighbour struct {
	by  int
	set [4]uint64
}

// anchorLit is one literal anchored at byte off of it.
type anchorLit struct {
	id  int
	off int
	lit []byte
}

// byteCommonness lists bytes from less to more common in log text (a
// rough guess from English letter frequencies and the punctuation of
// syslog lines); a byte not listed counts as rarer than all of them.
const byteCommonness = "ABCDEFGHIJKLMNOPQRSTUVWXYZ()[];=zqxj_-,/kvbpygfwmucl0123456789drhs.:nioate "

// maxAnchorRank is the commonness (index in byteCommonness + 1) above
// which an anchor is too common to pay: a literal made only of such bytes
// leaves the set on the automaton.
const maxAnchorRank = 52 // up to and including 'l'

// buildAnchors picks the anchors; it reports false when some literal has
// no byte rare enough, and the automaton should be used instead.
func (s *litSet) buildAnchors() bool {
	var rank [256]int
	for i := 0; i < len(byteCommonness); i++ {
		rank[byteCommonness[i]] = i + 1
	}
	a := &s.anchors
	*a = anchorScan{}
	for id, lit := range s.lits {
		best := -1
		for k, c := range lit {
			if best < 0 || rank[c] < rank[lit[best]] {
				best = k
			}
		}
		if best < 0 || rank[lit[best]] > maxAnchorRank {
			*a = anchorScan{}
			return false
		}
		c := lit[best]
		if a.cand[c] == 0 {
			a.heads = append(a.heads, nil)
			a.cand[c] = uint8(len(a.heads))
		}
		h := int(a.cand[c]) - 1
		a.heads[h] = append(a.heads[h], anchorLit{id: id, off: best, lit: lit})
	}
	if len(a.heads) == 0 || len(a.heads) >= 256 {
		return false
	}
	a.near = make([]neighbour, len(a.heads))
	for i, h := range a.heads {
		a.near[i] = neighbours(h)
	}
	return true
}

// neighbours works out the neighbour test for the literals of one head:
// the byte after the anchor when every literal has one, else the byte
// before it when every literal has one, else none. Common anchor bytes
// ('u' of " user ") then cost a literal comparison only where the next
// byte fits too ("us", not "un" of "pam_unix").
func neighbours(h []anchorLit) neighbour {
	after, before := true, true
	for _, al := range h {
		after = after && al.off+1 < len(al.lit)
		before = before && al.off > 0
	}
	var n neighbour
	switch {
	case after:
		n.by = 1
	case before:
		n.by = -1
	default:
		return n
	}
	for _, al := range h {
		c := al.lit[al.off+n.by]
		n.set[c/64] |= 1 << (c % 64)
	}
	return n
}

// scan sets in found (cleared by the caller) the literals present in buf.
func (a *anchorScan) scan(buf []byte, found litMask) {
	cand := &a.cand
	for i, c := range buf {
		h := cand[c]
		if h == 0 {
			continue
		}
		if n := &a.near[h-1]; n.by != 0 {
			j := i + n.by
			if j < 0 || j >= len(buf) || n.set[buf[j]/64]&(1<<(buf[j]%64)) == 0 {
				continue
			}
		}
		for _, al := range a.heads[h-1] {
			start := i - al.off
			if start < 0 || start+len(al.lit) > len(buf) {
				continue
			}
			if found[al.id/64]&(1<<(al.id%64)) != 0 || buf[start] != al.lit[0] {
				continue
			}
			if bytes.Equal(buf[start:start+len(al.lit)], al.lit) {
				found[al.id/64] |= 1 << (al.id % 64)
			}
		}
	}
}
