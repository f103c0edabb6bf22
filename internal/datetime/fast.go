package datetime

import "strings"

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
	fastApache
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

// fastAt tries the fast matcher for a match starting exactly at p of
// m.s. For an anchored program p is 0 and the line starts with a word
// character, so the optional non-word prefix is empty; otherwise p must
// pass the word-begin look-ahead.
func (m *matcher) fastAt(p int) bool {
	s := m.s
	if !m.prog.anchored && p > 0 && (s[p-1] >= 0x80 || isWordByte(s[p-1])) {
		return false
	}
	switch m.fast {
	case fastSyslog:
		return m.fastSyslog(s, p)
	case fastISO:
		return m.fastISO(s, p)
	case fastApache:
		return m.fastApache(s, p)
	}
	return false
}

// twoDigitDay reports the two-character %d forms whose regex parse is
// unambiguous: 10-29, 30-31, " 1"-" 9" (when space is allowed) and 01-09.
func twoDigitDay(c0, c1 byte, space bool) bool {
	return (c0 == '1' || c0 == '2') && c1 >= '0' && c1 <= '9' ||
		c0 == '3' && (c1 == '0' || c1 == '1') ||
		(c0 == '0' || space && c0 == ' ') && c1 >= '1' && c1 <= '9'
}

// hms checks "HH:MM:SS" at p; the hour as %k ([0-2]?\d, hour24 false) or
// as %H ([0-1]?\d|2[0-3]). Only two-digit fields are accepted.
func hms(s string, p int, hour24 bool) bool {
	if len(s) < p+8 || s[p+2] != ':' || s[p+5] != ':' ||
		!inRange(s, p+3, '0', '5') || !digit(s, p+4) || !inRange(s, p+6, '0', '5') || !digit(s, p+7) {
		return false
	}
	if hour24 {
		return inRange(s, p, '0', '1') && digit(s, p+1) || s[p] == '2' && inRange(s, p+1, '0', '3')
	}
	return inRange(s, p, '0', '2') && digit(s, p+1)
}

// year checks a %ExY year at p: "20", a decade digit within the window
// and an ASCII digit.
func (fs *fastSlots) year(s string, p int) bool {
	return len(s) >= p+4 && s[p] == '2' && s[p+1] == '0' && digit(s, p+2) && digit(s, p+3) &&
		int(s[p+2]-'0')+200 <= fs.yearHi
}

func (m *matcher) setHMS(h0 int) {
	m.set(m.fs.h, h0, h0+2)
	m.set(m.fs.mi, h0+3, h0+5)
	m.set(m.fs.s, h0+6, h0+8)
}

// fastSyslog: [DAY ]MON DD HH:MM:SS at p, followed by neither ".",
// " <digit>" nor a word character.
func (m *matcher) fastSyslog(s string, p int) bool {
	start := p
	if len(s) < p+15 || !isASCIILetter(s[p]) {
		return false
	}
	a0 := -1
	if s[p+3] == ' ' && isAbbr(s[p:p+3], dayAbbrs[:]) {
		a0, p = p, p+4
	}
	if len(s) < p+15 || s[p+3] != ' ' || !isAbbr(s[p:p+3], monthAbbrs[:]) {
		return false
	}
	b0 := p
	p += 4
	d0 := p
	c0, c1 := s[p], s[p+1]
	switch {
	case twoDigitDay(c0, c1, true):
		p += 2
	case c0 >= '1' && c0 <= '9' && c1 == ' ':
		p++
	default:
		return false
	}
	d1 := p
	// one space, then HH:MM:SS
	if s[p] != ' ' || !hms(s, p+1, false) {
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
	m.caps[0], m.caps[1], m.caps[2], m.caps[3] = start, end, start, end
	if a0 >= 0 {
		m.set(m.fs.a, a0, a0+3)
	}
	m.set(m.fs.b, b0, b0+3)
	m.set(m.fs.d, d0, d1)
	m.setHMS(h0)
	return true
}

// fraction reads an optional [.,]ffffff at p (seps lists the allowed
// separators). ok is false when there are more than six digits.
func fraction(s string, p int, seps string) (f0, f1, next int, ok bool) {
	if p < len(s) && strings.IndexByte(seps, s[p]) >= 0 {
		n := 0
		for digit(s, p+1+n) {
			n++
		}
		if n > 6 {
			return -1, -1, p, false
		}
		if n > 0 {
			return p + 1, p + 1 + n, p + 1 + n, true
		}
	}
	return -1, -1, p, true
}

// zoneAt reads a %z zone at w: Z, UTC, GMT or ±hh[[:]mm] (fold: ignore
// case as under (?i)). z0 < 0 when there is none.
func zoneAt(s string, w int, fold bool) (z0, z1 int) {
	switch {
	case w >= len(s):
	case s[w] == 'Z' || fold && s[w] == 'z':
		return w, w + 1
	case len(s)-w >= 3 && (s[w:w+3] == "UTC" || s[w:w+3] == "GMT" ||
		fold && (asciiFoldEqual(s[w:w+3], "utc") || asciiFoldEqual(s[w:w+3], "gmt"))):
		return w, w + 3
	case (s[w] == '+' || s[w] == '-') && inRange(s, w+1, '0', '1') && digit(s, w+2):
		if inRange(s, w+3, ':', ':') && digit(s, w+4) && digit(s, w+5) {
			return w, w + 6
		}
		if digit(s, w+3) && digit(s, w+4) {
			return w, w + 5
		}
		return w, w + 3
	}
	return -1, -1
}

// fastISO: YYYY-MM-DD[T ]HH:MM:SS[.ffffff][ ][Z|UTC|GMT|±hh[[:]mm]] at p,
// with two-digit fields.
func (m *matcher) fastISO(s string, p int) bool {
	start := p
	if len(s) < p+19 || !m.fs.year(s, p) {
		return false
	}
	sep := s[p+4]
	if sep != '-' && sep != '/' && sep != '.' || s[p+7] != sep {
		return false
	}
	if !(s[p+5] == '0' && inRange(s, p+6, '1', '9') || s[p+5] == '1' && inRange(s, p+6, '0', '2')) {
		return false
	}
	if !twoDigitDay(s[p+8], s[p+9], false) {
		return false
	}
	if !(s[p+10] == 'T' || s[p+10] == ' ' && digit(s, p+11)) || !hms(s, p+11, true) {
		return false
	}
	f0, f1, q, ok := fraction(s, p+19, ".,")
	if !ok {
		return false
	}
	// optional zone after optional white space
	w := q
	for w < len(s) && s[w] < 0x80 && isSpaceRune(rune(s[w])) {
		w++
	}
	z0, z1 := zoneAt(s, w, false)
	end := q
	if z0 >= 0 {
		end = z1
	} else if w < len(s) && s[w] >= 0x80 {
		return false // could be Unicode white space before a zone
	}
	if !endsWord(s, end) {
		return false
	}
	m.reset()
	m.caps[0], m.caps[1], m.caps[2], m.caps[3] = start, end, start, end
	m.set(m.fs.y, p, p+4)
	m.set(m.fs.sep, p+4, p+5)
	m.set(m.fs.mo, p+5, p+7)
	m.set(m.fs.d, p+8, p+10)
	m.setHMS(p + 11)
	if f0 >= 0 {
		m.set(m.fs.f, f0, f1)
	}
	if z0 >= 0 {
		m.set(m.fs.z, z0, z1)
	}
	return true
}

// fastApache: DD/Mon/YYYY:HH:MM:SS[.ffffff][ zone] at p (also with "-"
// and " " separators), two-digit fields, case-insensitive.
func (m *matcher) fastApache(s string, p int) bool {
	start := p
	if len(s) < p+20 || !twoDigitDay(s[p], s[p+1], false) {
		return false
	}
	sep := s[p+2]
	if sep != '/' && sep != '-' || s[p+6] != sep || !isAbbr(s[p+3:p+6], monthAbbrs[:]) || !m.fs.year(s, p+7) {
		return false
	}
	if c := s[p+11]; c != ':' && c != ' ' || !hms(s, p+12, true) {
		return false
	}
	f0, f1, q, ok := fraction(s, p+20, ".")
	if !ok {
		return false
	}
	end := q
	z0, z1 := -1, -1
	if q < len(s) && s[q] == ' ' {
		if z0, z1 = zoneAt(s, q+1, true); z0 >= 0 {
			end = z1
		}
	}
	if !endsWord(s, end) {
		return false
	}
	m.reset()
	m.caps[0], m.caps[1], m.caps[2], m.caps[3] = start, end, start, end
	m.set(m.fs.d, p, p+2)
	m.set(m.fs.sep, p+2, p+3)
	m.set(m.fs.b, p+3, p+6)
	m.set(m.fs.y, p+7, p+11)
	m.setHMS(p + 12)
	if f0 >= 0 {
		m.set(m.fs.f, f0, f1)
	}
	if z0 >= 0 {
		m.set(m.fs.z, z0, z1)
	}
	return true
}

// attachFast gives the anchored default syslog and ISO templates their
// fast matchers.
func (t *template) attachFast(kind fastKind, ymax int) {
	if t.m == nil || kind == fastNone {
		return
	}
	slot := func(name string) int {
		if s, ok := t.names[name]; ok {
			return s
		}
		return -1
	}
	t.m.fs = fastSlots{
		a: slot("a"), b: slot("b"), d: slot("d"), sep: slot("_sep"), y: slot("Y"), mo: slot("m"),
		h: slot("H"), mi: slot("M"), s: slot("S"), f: slot("f"), z: slot("z"), yearHi: ymax / 10,
	}
	t.m.fast = kind
}
