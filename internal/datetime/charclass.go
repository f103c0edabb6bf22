package datetime

import (
	"unicode"
	"unicode/utf8"
)

// charClass is a set of characters; ASCII is answered by a bitmap.
type charClass struct {
	ascii [2]uint64
	neg   bool
	items []classItem // for characters >= 0x80 (already including neg)
}

type classItem struct {
	lo, hi rune
	pred   func(rune) bool
}

func (c *charClass) addASCII(b byte) { c.ascii[b>>6] |= 1 << (b & 63) }

func (c *charClass) hasASCII(b byte) bool { return c.ascii[b>>6]&(1<<(b&63)) != 0 }

// matches reports whether r is in the class.
func (c *charClass) matches(r rune) bool {
	if r < utf8.RuneSelf {
		return c.hasASCII(byte(r))
	}
	in := false
	for _, it := range c.items {
		if it.pred != nil {
			if it.pred(r) {
				in = true
				break
			}
		} else if r >= it.lo && r <= it.hi {
			in = true
			break
		}
	}
	return in != c.neg
}

// Python's \w for str patterns: letters, numbers and underscore.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || (r >= '0' && r <= '9') || (r|0x20 >= 'a' && r|0x20 <= 'z')
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

func isSpaceRune(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f', '\v', 0x1c, 0x1d, 0x1e, 0x1f:
		return true
	}
	return r >= utf8.RuneSelf && unicode.IsSpace(r)
}

func isDigitRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9'
	}
	return unicode.Is(unicode.Nd, r)
}

func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

// addShorthand adds \d, \w, \s or, in upper case, their negations to cls.
func addShorthand(cls *charClass, c byte) {
	var pred func(rune) bool
	switch c | 0x20 {
	case 'd':
		pred = isDigitRune
	case 'w':
		pred = isWordRune
	case 's':
		pred = isSpaceRune
	}
	neg := c >= 'A' && c <= 'Z'
	for b := 0; b < 128; b++ {
		if pred(rune(b)) != neg {
			cls.addASCII(byte(b))
		}
	}
	if neg {
		cls.items = append(cls.items, classItem{pred: func(r rune) bool { return !pred(r) }})
	} else {
		cls.items = append(cls.items, classItem{pred: pred})
	}
}

// addFoldPartners adds the non-ASCII characters that fold to the ASCII
// letter r (U+017F for s, U+212A for k) for case-insensitive classes.
func addFoldPartners(cls *charClass, r rune) {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f >= utf8.RuneSelf {
			cls.items = append(cls.items, classItem{lo: f, hi: f})
		}
	}
}
