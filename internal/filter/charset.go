package filter

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// runeSet is a sorted list of disjoint, non-adjacent inclusive rune ranges.
type runeSet []rng

type rng struct{ lo, hi rune }

// normalize sorts and merges the ranges of s in place.
func (s runeSet) normalize() runeSet {
	if len(s) < 2 {
		return s
	}
	sort.Slice(s, func(i, j int) bool { return s[i].lo < s[j].lo })
	out := s[:1]
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi+1 {
			if r.hi > last.hi {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// complement returns the runes (0..MaxRune) not in the normalized set s.
func (s runeSet) complement() runeSet {
	var out runeSet
	next := rune(0)
	for _, r := range s {
		if r.lo > next {
			out = append(out, rng{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, rng{next, unicode.MaxRune})
	}
	return out
}

// clipASCII keeps only the ASCII part of the normalized set s.
func (s runeSet) clipASCII() runeSet {
	var out runeSet
	for _, r := range s {
		if r.lo > 0x7f {
			break
		}
		if r.hi > 0x7f {
			r.hi = 0x7f
		}
		out = append(out, r)
	}
	return out
}

func fromTables(extra runeSet, tabs ...*unicode.RangeTable) runeSet {
	s := append(runeSet(nil), extra...)
	for _, t := range tabs {
		for _, r := range t.R16 {
			if r.Stride == 1 {
				s = append(s, rng{rune(r.Lo), rune(r.Hi)})
				continue
			}
			for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
				s = append(s, rng{c, c})
			}
		}
		for _, r := range t.R32 {
			if r.Stride == 1 {
				s = append(s, rng{rune(r.Lo), rune(r.Hi)})
				continue
			}
			for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
				s = append(s, rng{c, c})
			}
		}
	}
	return s.normalize()
}

// classKind names Python's shorthand classes \d, \s, \w.
type classKind byte

const (
	classDigit classKind = 'd'
	classSpace classKind = 's'
	classWord  classKind = 'w'
)

// shorthand returns the members of a Python shorthand class. ascii is
// Python's ASCII mode ((?a)); otherwise the Unicode (str pattern) meaning
// is used: \d is category Nd, \w is letters, numbers and underscore, \s is
// what str.isspace accepts.
func shorthand(k classKind, ascii bool) runeSet {
	switch k {
	case classDigit:
		if ascii {
			return runeSet{{'0', '9'}}
		}
		return fromTables(nil, unicode.Nd)
	case classSpace:
		if ascii {
			return runeSet{{'\t', '\r'}, {' ', ' '}}
		}
		return runeSet{{'\t', '\r'}, {0x1c, ' '}, {0x85, 0x85}, {0xa0, 0xa0},
			{0x1680, 0x1680}, {0x2000, 0x200a}, {0x2028, 0x2029}, {0x202f, 0x202f},
			{0x205f, 0x205f}, {0x3000, 0x3000}}
	default:
		if ascii {
			return runeSet{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}
		}
		return fromTables(runeSet{{'_', '_'}}, unicode.L, unicode.N)
	}
}

// writeClass writes s as a bracketed class for the target engine.
func writeClass(b *strings.Builder, s runeSet, negate bool, t target) {
	if len(s) == 0 {
		if negate {
			// every character
			b.WriteString(`[\x00-`)
			writeClassRune(b, unicode.MaxRune, t)
			b.WriteString(`]`)
			return
		}
		// nothing: a class that cannot match
		b.WriteString(`[^\x00-`)
		writeClassRune(b, unicode.MaxRune, t)
		b.WriteString(`]`)
		return
	}
	b.WriteByte('[')
	if negate {
		b.WriteByte('^')
	}
	for _, r := range s {
		writeClassRune(b, r.lo, t)
		if r.hi != r.lo {
			if r.hi > r.lo+1 {
				b.WriteByte('-')
			}
			writeClassRune(b, r.hi, t)
		}
	}
	b.WriteByte(']')
}

// writeClassRune writes one rune so that both engines read it literally
// inside a bracket expression.
func writeClassRune(b *strings.Builder, r rune, t target) {
	switch {
	case r >= '0' && r <= '9', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		b.WriteRune(r)
	case r < 0x100:
		b.WriteString(`\x`)
		writeHex(b, r, 2)
	case t == targetGo:
		b.WriteString(`\x{`)
		writeHex(b, r, 1)
		b.WriteByte('}')
	case r <= 0xffff:
		b.WriteString(`\u`)
		writeHex(b, r, 4)
	default:
		b.WriteRune(r)
	}
}

// writeHex writes r in lower-case hex, zero-padded to width digits.
func writeHex(b *strings.Builder, r rune, width int) {
	var buf [8]byte
	s := strconv.AppendUint(buf[:0], uint64(r), 16)
	for i := len(s); i < width; i++ {
		b.WriteByte('0')
	}
	b.Write(s)
}

// writeLiteral writes r as a literal outside brackets.
func writeLiteral(b *strings.Builder, r rune, t target) {
	switch {
	case r >= '0' && r <= '9', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r == ' ', r == '_':
		b.WriteRune(r)
	case r < 0x80 && r > 0x20 && r != 0x7f:
		if strings.ContainsRune(`\.+*?()|[]{}^$#`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	default:
		writeClassRune(b, r, t)
	}
}
