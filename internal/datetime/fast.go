package datetime

// Hand-written matchers for the two templates that win on most logs: the
// line-anchored BSD syslog stamp ("Jan  2 15:04:05") and the line-anchored
// ISO 8601 stamp ("2026-01-02T15:04:05.123+01:00"). Each recognises only
// a canonical shape for which it is plain that the regex's first match
// (in Python's backtracking order) is exactly that shape, and then fills
// the same capture slots the engine would. Anything else - a missing
// field, a trailing year, seven fraction digits, a non-ASCII neighbour -
// returns false and the engine decides. FuzzFastPaths checks that both
// agree on every decided input.

type fastKind uint8

const (
	fastNone fastKind = iota
	fastSyslog
	fastISO
)

// fastSlots are the capture slots a fast matcher fills.
type fastSlots struct {
	a, b, d, sep, y, mo, h, mi, s, f, z int
	yearHi                              int // highest accepted first three year digits
}

var (
	dayAbbrs   = [...]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	monthAbbrs = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
)

func isAbbr(s string, names []string) bool {
	for _, n := range names {
		if asciiFoldEqual(s, n) {
			return true
		}
	}
	return false
}

func digit(s string, i int) bool { return i < len(s) && s[i] >= '0' && s[i] <= '9' }

func inRange(s string, i int, lo, hi byte) bool { return i < len(s) && s[i] >= lo && s[i] <= hi }

// endsWord reports whether position i is a word end the final look-ahead
// accepts for certain: the end of the line or an ASCII non-word byte.
func endsWord(s string, i int) bool {
	return i >= len(s) || (s[i] < 0x80 && !isWordByte(s[i]))
}

func (m *matcher) set(slot, a, b int) {
	if slot > 0 {
		m.caps[2*slot], m.caps[2*slot+1] = a, b
	}
}

func (m *matcher) reset() {
	for i := range m.caps {
		m.caps[i] = -1
	}
}

// runFast tries the template's fast matcher on the whole line s.
func (t *template) runFast(s string) bool {
	switch t.fast {
	case fastSyslog:
		return t.m.fastSyslog(s, &t.fs)
	case fastISO:
		return t.m.fastISO(s, &t.fs)
	}
	return false
}

// fastSyslog: [DAY ]MON DD HH:MM:SS at the very start of s, followed by
// neither ".", " <digit>" nor a word character.
func (m *matcher) fastSyslog(s string, fs *fastSlots) bool {
	if len(s) < 15 || !isASCIILetter(s[0]) {
		return false
	}
	p := 0
	a0 := -1
	if s[3] == ' ' && isAbbr(s[:3], dayAbbrs[:]) {
		a0, p = 0, 4
	}
	if len(s) < p+15 || s[p+3] != ' ' || !isAbbr(s[p:p+3], monthAbbrs[:]) {
		return false
	}
	b0 := p
	p += 4
	d0 := p
	c0, c1 := s[p], s[p+1]
	switch {
	case (c0 == '1' || c0 == '2') && c1 >= '0' && c1 <= '9',
		c0 == '3' && (c1 == '0' || c1 == '1'),
		(c0 == ' ' || c0 == '0') && c1 >= '1' && c1 <= '9':
		p += 2
	case c0 >= '1' && c0 <= '9' && c1 == ' ':
		p++
	default:
		return false
	}
	d1 := p
	// one space, then HH:MM:SS with two digits each
	if s[p] != ' ' || len(s) < p+9 || !inRange(s, p+1, '0', '2') || !digit(s, p+2) || s[p+3] != ':' ||
		!inRange(s, p+4, '0', '5') || !digit(s, p+5) || s[p+6] != ':' ||
		!inRange(s, p+7, '0', '5') || !digit(s, p+8) {
		return false
	}
	h0 := p + 1
	end := p + 9
	if end < len(s) && (s[end] == '.' || (s[end] == ' ' && digit(s, end+1))) {
		return false
	}
	if !endsWord(s, end) {
		return false
	}
	m.reset()
	m.caps[0], m.caps[1], m.caps[2], m.caps[3] = 0, end, 0, end
	if a0 >= 0 {
		m.set(fs.a, 0, 3)
	}
	m.set(fs.b, b0, b0+3)
	m.set(fs.d, d0, d1)
	m.set(fs.h, h0, h0+2)
	m.set(fs.mi, h0+3, h0+5)
	m.set(fs.s, h0+6, h0+8)
	return true
}

// fastISO: YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z|UTC|GMT|±hh[[:]mm]] at the
// very start of s, with two-digit fields.
func (m *matcher) fastISO(s string, fs *fastSlots) bool {
	if len(s) < 19 || s[0] != '2' || s[1] != '0' || !digit(s, 2) || !digit(s, 3) ||
		int(s[2]-'0')+200 > fs.yearHi {
		return false
	}
	sep := s[4]
	if sep != '-' && sep != '/' && sep != '.' || s[7] != sep {
		return false
	}
	if !(s[5] == '0' && inRange(s, 6, '1', '9') || s[5] == '1' && inRange(s, 6, '0', '2')) {
		return false
	}
	c0, c1 := s[8], s[9]
	if !((c0 == '1' || c0 == '2') && c1 >= '0' && c1 <= '9' || c0 == '3' && (c1 == '0' || c1 == '1') ||
		c0 == '0' && c1 >= '1' && c1 <= '9') {
		return false
	}
	if !(s[10] == 'T' || s[10] == ' ' && digit(s, 11)) {
		return false
	}
	if !(inRange(s, 11, '0', '1') && digit(s, 12) || s[11] == '2' && inRange(s, 12, '0', '3')) ||
		s[13] != ':' || !inRange(s, 14, '0', '5') || !digit(s, 15) || s[16] != ':' ||
		!inRange(s, 17, '0', '5') || !digit(s, 18) {
		return false
	}
	p := 19
	f0, f1 := -1, -1
	if p < len(s) && (s[p] == '.' || s[p] == ',') {
		n := 0
		for digit(s, p+1+n) {
			n++
		}
		if n > 6 {
			return false
		}
		if n > 0 {
			f0, f1 = p+1, p+1+n
			p = f1
		}
	}
	// optional zone after optional white space
	w := p
	for w < len(s) && s[w] < 0x80 && isSpaceRune(rune(s[w])) {
		w++
	}
	z0, z1 := -1, -1
	switch {
	case w >= len(s):
	case s[w] == 'Z':
		z0, z1 = w, w+1
	case len(s)-w >= 3 && (s[w:w+3] == "UTC" || s[w:w+3] == "GMT"):
		z0, z1 = w, w+3
	case (s[w] == '+' || s[w] == '-') && inRange(s, w+1, '0', '1') && digit(s, w+2):
		z0, z1 = w, w+3
		if inRange(s, w+3, ':', ':') && digit(s, w+4) && digit(s, w+5) {
			z1 = w + 6
		} else if digit(s, w+3) && digit(s, w+4) {
			z1 = w + 5
		}
	}
	end := p
	if z0 >= 0 {
		end = z1
	} else if w < len(s) && s[w] >= 0x80 {
		return false // could be Unicode white space before a zone
	}
	if !endsWord(s, end) {
		return false
	}
	m.reset()
	m.caps[0], m.caps[1], m.caps[2], m.caps[3] = 0, end, 0, end
	m.set(fs.y, 0, 4)
	m.set(fs.sep, 4, 5)
	m.set(fs.mo, 5, 7)
	m.set(fs.d, 8, 10)
	m.set(fs.h, 11, 13)
	m.set(fs.mi, 14, 16)
	m.set(fs.s, 17, 19)
	if f0 >= 0 {
		m.set(fs.f, f0, f1)
	}
	if z0 >= 0 {
		m.set(fs.z, z0, z1)
	}
	return true
}

// attachFast gives the anchored default syslog and ISO templates their
// fast matchers.
func (t *template) attachFast(kind fastKind, ymax int) {
	if t.m == nil {
		return
	}
	slot := func(name string) int {
		if s, ok := t.names[name]; ok {
			return s
		}
		return -1
	}
	t.fs = fastSlots{
		a: slot("a"), b: slot("b"), d: slot("d"), sep: slot("_sep"), y: slot("Y"), mo: slot("m"),
		h: slot("H"), mi: slot("M"), s: slot("S"), f: slot("f"), z: slot("z"), yearHi: ymax / 10,
	}
	t.fast = kind
}
