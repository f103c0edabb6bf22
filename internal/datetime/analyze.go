package datetime

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Static analysis of parsed programs: widths, the bytes a match can start
// with, and a required literal to search for.

// fixedWidth returns the width in characters every alternative has.
func fixedWidth(alts [][]*node) (int, bool) {
	w := -1
	for _, seq := range alts {
		sw := 0
		for _, n := range seq {
			switch n.op {
			case opAssert, opLook:
			case opString:
				sw += len(n.str)
			case opClass:
				if n.min != n.max {
					return 0, false
				}
				sw += n.min
			case opGroup:
				gw, ok := fixedWidth(n.alts)
				if !ok || n.min != n.max {
					return 0, false
				}
				sw += gw * n.min
			default:
				return 0, false
			}
		}
		if w >= 0 && w != sw {
			return 0, false
		}
		w = sw
	}
	return w, w >= 0
}

// firstOfAlts adds to set the bytes a match of alts can start with and
// reports whether alts can match without consuming anything.
func firstOfAlts(alts [][]*node, set *[256]bool) bool {
	empty := false
	for _, seq := range alts {
		if firstOfSeq(seq, set) {
			empty = true
		}
	}
	return empty
}

func firstOfSeq(seq []*node, set *[256]bool) bool {
	for _, n := range seq {
		var canEmpty bool
		switch n.op {
		case opAssert, opLook:
			continue
		case opString:
			b := n.str[0]
			set[b] = true
			if isASCIILetter(b) {
				set[b^0x20] = true
				// lead bytes of non-ASCII case variants (U+017F, U+212A)
				for f := unicode.SimpleFold(rune(b)); f != rune(b); f = unicode.SimpleFold(f) {
					if f >= utf8.RuneSelf {
						var buf [utf8.UTFMax]byte
						utf8.EncodeRune(buf[:], f)
						set[buf[0]] = true
					}
				}
			}
			return false
		case opClass:
			for b := 0; b < 128; b++ {
				if n.cls.hasASCII(byte(b)) {
					set[b] = true
				}
			}
			if len(n.cls.items) > 0 || n.cls.neg {
				for b := 0x80; b < 256; b++ {
					set[b] = true
				}
			}
			canEmpty = n.min == 0
		case opGroup:
			canEmpty = firstOfAlts(n.alts, set) || n.min == 0
		case opCond:
			canEmpty = firstOfAlts(n.alts, set) || len(n.alts) < 2
		default: // backreferences: anything
			for b := range set {
				set[b] = true
			}
			return true
		}
		if !canEmpty {
			return false
		}
	}
	return true
}

// findAnchor picks the literal to search for: the first one holding ':'
// (time stamps), else the first literal, with the width range of what
// precedes it. Plain groups are looked into.
func findAnchor(seq []*node, icase bool) anchorLit {
	var best anchorLit
	widths := map[int][2]int{}
	lo, hi := 0, 0
	open := map[int][2]int{}
	var walk func(seq []*node) bool
	walk = func(seq []*node) bool {
		for _, n := range seq {
			if n.op == opAssert && n.kind == asSave {
				// a flattened group: note its width for back-references
				if g := n.slot / 2; n.slot%2 == 0 {
					open[g] = [2]int{lo, hi}
				} else {
					widths[g] = [2]int{lo - open[g][0], hi - open[g][1]}
				}
				continue
			}
			if n.op == opString && !(icase && hasASCIILetter(n.str)) {
				cand := anchorLit{lit: n.str, minOff: lo, maxOff: hi}
				if best.lit == "" {
					best = cand
				}
				if strings.Contains(n.str, ":") {
					best = cand
					return false
				}
			}
			if n.op == opGroup && n.min == 1 && n.max == 1 && len(n.alts) == 1 {
				start := [2]int{lo, hi}
				if !walk(n.alts[0]) {
					return false
				}
				if n.slot >= 0 {
					widths[n.slot] = [2]int{lo - start[0], hi - start[1]}
				}
				continue
			}
			a, b, ok := nodeWidth(n, widths)
			if !ok {
				return false
			}
			lo, hi = lo+a, hi+b
		}
		return true
	}
	walk(seq)
	return best
}

// nodeWidth returns the min and max width of n in characters; ok is false
// when unbounded or unknown.
func nodeWidth(n *node, widths map[int][2]int) (int, int, bool) {
	switch n.op {
	case opAssert, opLook:
		return 0, 0, true
	case opString:
		return len(n.str), len(n.str), true
	case opClass:
		if n.max < 0 {
			return 0, 0, false
		}
		return n.min, n.max, true
	case opBackref:
		w, ok := widths[n.slot]
		return w[0], w[1], ok
	case opGroup, opCond:
		lo, hi := -1, 0
		for _, seq := range n.alts {
			a, b := 0, 0
			for _, c := range seq {
				x, y, ok := nodeWidth(c, widths)
				if !ok {
					return 0, 0, false
				}
				a, b = a+x, b+y
			}
			if lo < 0 || a < lo {
				lo = a
			}
			if b > hi {
				hi = b
			}
		}
		if lo < 0 {
			lo = 0
		}
		if n.op == opCond {
			if len(n.alts) < 2 {
				lo = 0
			}
			return lo, hi, true
		}
		if n.max < 0 {
			return 0, 0, false
		}
		if n.slot >= 0 {
			widths[n.slot] = [2]int{lo, hi}
		}
		return lo * n.min, hi * n.max, true
	}
	return 0, 0, false
}

func hasASCIILetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if isASCIILetter(s[i]) {
			return true
		}
	}
	return false
}

// analyzeAlts fills the per-alternative first bytes and the simple flag
// of a group node.
func (n *node) analyzeAlts() {
	n.altFirst = make([]byteSet, len(n.alts))
	n.altEmpty = make([]bool, len(n.alts))
	n.simple = n.op == opGroup && n.min <= 1 && n.max == 1 && !n.lazy
	for j, seq := range n.alts {
		var set [256]bool
		n.altEmpty[j] = firstOfSeq(seq, &set)
		for b, in := range set {
			if in {
				n.altFirst[j][b>>6] |= 1 << (b & 63)
			}
		}
		for _, it := range seq {
			if !(it.op == opString || it.op == opClass && it.max == 1 && it.min <= 1 && !it.lazy) {
				n.simple = false
			}
		}
	}
}

// flatten rewrites a top-level sequence for speed without changing what
// it matches: a capturing group that must match exactly once with a single
// alternative becomes save markers around its contents (every path to
// what follows passes through it, so no value needs restoring), and
// "(?:X{0,n})?" with X one character class becomes "X{0,n}".
func flatten(seq []*node) []*node {
	var out []*node
	for _, n := range seq {
		switch {
		case n.op == opGroup && n.min == 1 && n.max == 1 && len(n.alts) == 1 && n.slot >= 0:
			out = append(out, &node{op: opAssert, kind: asSave, slot: 2 * n.slot})
			out = append(out, flatten(n.alts[0])...)
			out = append(out, &node{op: opAssert, kind: asSave, slot: 2*n.slot + 1})
		case n.op == opGroup && n.min == 0 && n.max == 1 && !n.lazy && n.slot < 0 && len(n.alts) == 1 &&
			len(n.alts[0]) == 1 && n.alts[0][0].op == opClass && n.alts[0][0].min == 0 && !n.alts[0][0].lazy:
			out = append(out, n.alts[0][0])
		default:
			out = append(out, n)
		}
	}
	return out
}

// parseBraces reads the body of a {m,n} quantifier.
func parseBraces(body string) (int, int, bool) {
	lo, hi, hasComma := body, body, false
	if i := strings.IndexByte(body, ','); i >= 0 {
		lo, hi, hasComma = body[:i], body[i+1:], true
	}
	atoi := func(s string, def int) (int, bool) {
		if s == "" {
			return def, true
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 1000 {
			return 0, false
		}
		return v, true
	}
	l, ok1 := atoi(lo, 0)
	h, ok2 := atoi(hi, -1)
	if !ok1 || !ok2 || (!hasComma && lo == "") {
		return 0, 0, false
	}
	if h >= 0 && h < l {
		return 0, 0, false
	}
	return l, h, true
}
