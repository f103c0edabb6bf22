package filter

import (
	"strconv"
	"strings"
)

// escItem is what one backslash escape stands for.
type escItem struct {
	lit    rune      // a literal character, if class == 0 and anchor == 0
	class  classKind // \d \s \w (negated when neg)
	neg    bool
	anchor rune // 'A', 'Z', 'b', 'B'
	ref    int  // group reference \1..\99
}

func isHex(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

func isOct(r rune) bool { return r >= '0' && r <= '7' }

// readEscape reads the escape after a backslash, the way Python's parser
// does inside (inClass) or outside a bracket expression.
func (t *translator) readEscape(inClass bool) (escItem, error) {
	c, ok := t.peek()
	if !ok {
		return escItem{}, t.errf("bad escape (end of pattern)")
	}
	t.pos++
	switch c {
	case 'd', 's', 'w':
		return escItem{class: classKind(c)}, nil
	case 'D', 'S', 'W':
		return escItem{class: classKind(c + 'a' - 'A'), neg: true}, nil
	case 'A', 'Z', 'B':
		if inClass {
			return escItem{}, t.errf(`bad escape \%c`, c)
		}
		return escItem{anchor: c}, nil
	case 'b':
		if inClass {
			return escItem{lit: '\b'}, nil
		}
		return escItem{anchor: 'b'}, nil
	case 'a':
		return escItem{lit: '\a'}, nil
	case 'f':
		return escItem{lit: '\f'}, nil
	case 'n':
		return escItem{lit: '\n'}, nil
	case 'r':
		return escItem{lit: '\r'}, nil
	case 't':
		return escItem{lit: '\t'}, nil
	case 'v':
		return escItem{lit: '\v'}, nil
	case 'x', 'u', 'U':
		n := map[rune]int{'x': 2, 'u': 4, 'U': 8}[c]
		s := t.pos
		for t.pos < len(t.src) && t.pos-s < n && isHex(t.src[t.pos]) {
			t.pos++
		}
		if t.pos-s != n {
			return escItem{}, t.errf(`incomplete escape \%c%s`, c, string(t.src[s:t.pos]))
		}
		v, _ := strconv.ParseUint(string(t.src[s:t.pos]), 16, 32)
		if v > 0x10ffff {
			return escItem{}, t.errf(`bad escape \%c%s`, c, string(t.src[s:t.pos]))
		}
		return escItem{lit: rune(v)}, nil
	case 'N':
		return escItem{}, t.errf(`named character escapes \N{...} are not supported`)
	}
	if c >= '0' && c <= '9' {
		return t.numericEscape(c, inClass)
	}
	if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return escItem{}, t.errf(`bad escape \%c`, c)
	}
	return escItem{lit: c}, nil
}

// numericEscape reads \0, octal escapes and group references.
func (t *translator) numericEscape(c rune, inClass bool) (escItem, error) {
	digits := string(c)
	if inClass || c == '0' {
		if !isOct(c) {
			return escItem{}, t.errf(`bad escape \%c`, c)
		}
		for len(digits) < 3 && t.pos < len(t.src) && isOct(t.src[t.pos]) {
			digits += string(t.src[t.pos])
			t.pos++
		}
		v, _ := strconv.ParseUint(digits, 8, 32)
		if v > 0o377 {
			return escItem{}, t.errf(`octal escape value \%s outside of range 0-0o377`, digits)
		}
		return escItem{lit: rune(v)}, nil
	}
	if n, ok := t.peek(); ok && n >= '0' && n <= '9' {
		t.pos++
		digits += string(n)
		if isOct(c) && isOct(n) {
			if n3, ok := t.peek(); ok && isOct(n3) {
				t.pos++
				digits += string(n3)
				v, _ := strconv.ParseUint(digits, 8, 32)
				if v > 0o377 {
					return escItem{}, t.errf(`octal escape value \%s outside of range 0-0o377`, digits)
				}
				return escItem{lit: rune(v)}, nil
			}
		}
	}
	g, _ := strconv.Atoi(digits)
	if g >= len(t.names) {
		return escItem{}, t.errf("invalid group reference %d", g)
	}
	return escItem{ref: g}, nil
}

// escape handles a backslash outside a bracket expression.
func (t *translator) escape() error {
	start := len(t.out)
	e, err := t.readEscape(false)
	if err != nil {
		return err
	}
	switch {
	case e.ref > 0:
		return t.backref(e.ref, start)
	case e.anchor != 0:
		t.anchorEscape(e.anchor)
		t.atom(atomAnchor, start)
	case e.class != 0:
		var b strings.Builder
		writeClass(&b, t.classSet(e.class, false), e.neg, t.o.target)
		t.emit(b.String())
		t.atom(atomItem, start)
	default:
		var b strings.Builder
		writeLiteral(&b, e.lit, t.o.target)
		t.emit(b.String())
		t.atom(atomItem, start)
	}
	return nil
}

// classSet returns a shorthand's members, cut to ASCII where allowed.
func (t *translator) classSet(k classKind, complement bool) runeSet {
	ascii := t.flags.a
	if t.o.asciiInput && k != classSpace {
		// the ASCII members of Unicode's \d and \w are ASCII's \d and
		// \w, and building the Unicode ones is slow (not so for \s,
		// which holds \x1c-\x1f, and is small anyway)
		ascii = true
	}
	s := shorthand(k, ascii)
	if complement {
		s = s.complement()
	}
	if t.o.asciiInput {
		s = s.clipASCII()
	}
	return s
}

func (t *translator) anchorEscape(a rune) {
	switch a {
	case 'A':
		t.emit(`\A`)
	case 'Z':
		t.emit(`\z`)
	case 'b', 'B':
		ascii := t.asciiClasses()
		if t.o.target == targetGo {
			if ascii {
				// Go's \b is the ASCII word boundary Python uses here.
				t.emit(`\` + string(a))
				return
			}
			t.need(`\b with Unicode word characters`)
			t.emit(`(?:)`)
			return
		}
		var w strings.Builder
		writeClass(&w, shorthand(classWord, ascii), false, targetBT)
		ws := w.String()
		if a == 'b' {
			t.emit(`(?:(?<=` + ws + `)(?!` + ws + `)|(?<!` + ws + `)(?=` + ws + `))`)
		} else {
			t.emit(`(?:(?<=` + ws + `)(?=` + ws + `)|(?<!` + ws + `)(?!` + ws + `))`)
		}
	}
}

// class translates a bracket expression; the '[' was consumed.
func (t *translator) class() error {
	openPos := t.pos - 1
	negate := false
	if c, ok := t.peek(); ok && c == '^' {
		negate = true
		t.pos++
	}
	var set runeSet
	items := 0
	for {
		c, ok := t.peek()
		if !ok {
			t.pos = openPos
			return t.errf("unterminated character set")
		}
		t.pos++
		if c == ']' && items > 0 {
			break
		}
		var item escItem
		if c == '\\' {
			e, err := t.readEscape(true)
			if err != nil {
				return err
			}
			item = e
		} else {
			item = escItem{lit: c}
		}
		items++
		if n, ok := t.peek(); ok && n == '-' {
			t.pos++
			that, ok := t.peek()
			if !ok {
				t.pos = openPos
				return t.errf("unterminated character set")
			}
			t.pos++
			if that == ']' {
				set = append(set, t.itemSet(item)...)
				set = append(set, rng{'-', '-'})
				break
			}
			hi := escItem{lit: that}
			if that == '\\' {
				e, err := t.readEscape(true)
				if err != nil {
					return err
				}
				hi = e
			}
			if item.class != 0 || hi.class != 0 {
				return t.errf("bad character range")
			}
			if hi.lit < item.lit {
				return t.errf("bad character range %c-%c", item.lit, hi.lit)
			}
			set = append(set, rng{item.lit, hi.lit})
			continue
		}
		set = append(set, t.itemSet(item)...)
	}
	set = set.normalize()
	if t.o.asciiInput && !t.flags.i {
		set = set.clipASCII()
	}
	var b strings.Builder
	writeClass(&b, set, negate, t.o.target)
	t.emit(b.String())
	return nil
}

func (t *translator) itemSet(e escItem) runeSet {
	if e.class != 0 {
		return t.classSet(e.class, e.neg)
	}
	return runeSet{{e.lit, e.lit}}
}
