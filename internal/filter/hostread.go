package filter

import "regexp/syntax"

// hostReader reads the groups of an address tag over a span a chain's
// automaton already found, in place of the segment's sub-regexp (a
// backtracking search and a new []int per failure). It knows two shapes,
// as the translator writes them for ASCII subjects:
//
//	<HOST>:        \[?(?:(?:::f{4,6}:)?(ip4)|(ip6))\]?|(dns)
//	<ADDR>'s core: (?:::f{4,6}:)?(ip4)|(ip6)
//
// (<ADDR> at the top of a failregex is split by the chain: its optional
// brackets join the literal runs around it and the alternation is a
// segment of its own.)
//
// The answer must be the sub-regexp's: the first way, in Perl's order, the
// shape matches the whole span.
//
//   - A '[' at the start of the span can only be read by the optional '['
//     (no other part of the shape accepts it), so it is taken; likewise a
//     ']' at the end. Neither can be part of a dns name.
//   - What is between is then tried as the shape tries it: the optional
//     "::" f{4,6} ":" prefix (taken when it is there: greedy) then ip4
//     (dotted quad, 1-3 digits each) to the end; ip4 alone; ip6 (steps of
//     1-4 hex digits and one or two ':', or "::", then 1-4 hex digits or
//     ':'). The group that reads it spans it.
//   - If none does, only <HOST>'s dns choice is left: it spans the whole
//     span when every byte is in its class and the last is a word byte
//     (so no bracket was taken).
//   - Otherwise the shape does not match the span, which the chain's
//     automaton would not have let happen: the reader says it cannot
//     tell and the sub-regexp answers.
type hostReader struct {
	brackets bool // the shape has the optional brackets and the dns choice
	// the sub-regexp's groups: ip4, ip6, dns (dns 0 for the core)
	ip4, ip6, dns int
}

// Group numbers of the shapes' groups in their sub-regexp (by opening
// parenthesis, as capsOf lists them).
const (
	hostSubIP4 = 1
	hostSubIP6 = 2
	hostSubDNS = 3
)

// The shapes as a segment's expression prints (syntax.Regexp.String of
// the translation for ASCII subjects, classes cut to ASCII), written out
// because working them out costs more than the rest of a chain's build;
// TestHostShapes checks them against the translator.
const (
	hostShapeHOST = `\[?(?:(?:::f{4,6}:)?([0-9]{1,3}(?:\.[0-9]{1,3}){3})|((?:[0-9A-Fa-f]{1,4}::?|::){1,7}(?:[0-9A-Fa-f]{1,4}|:)))\]?|([\-\.0-9A-Z\^_a-z]*[0-9A-Z_a-z])`
	hostShapeADDR = `(?:::f{4,6}:)?([0-9]{1,3}(?:\.[0-9]{1,3}){3})|((?:[0-9A-Fa-f]{1,4}::?|::){1,7}(?:[0-9A-Fa-f]{1,4}|:))`
)

// newHostReader returns a reader when inner (the segment's expression,
// classes already cut to ASCII) is one of the shapes; nil otherwise.
func newHostReader(inner *syntax.Regexp) *hostReader {
	if inner.Op != syntax.OpAlternate || inner.MaxCap() == 0 {
		return nil
	}
	switch inner.String() {
	case hostShapeHOST:
		return &hostReader{brackets: true, ip4: hostSubIP4, ip6: hostSubIP6, dns: hostSubDNS}
	case hostShapeADDR:
		return &hostReader{ip4: hostSubIP4, ip6: hostSubIP6}
	}
	return nil
}

// read returns the sub-regexp group that spans the address in t (the
// whole span the segment matched) and its bounds in t; ok is false when
// the reader cannot tell and the sub-regexp must answer.
func (h *hostReader) read(t []byte) (group, lo, hi int, ok bool) {
	lo, hi = 0, len(t)
	if h.brackets {
		if hi > lo && t[lo] == '[' {
			lo++
		}
		if hi > lo && t[hi-1] == ']' {
			hi--
		}
	}
	u := t[lo:hi]
	if n := mappedPrefix(u); n > 0 && isDottedQuad(u[n:]) {
		return h.ip4, lo + n, hi, true
	}
	if isDottedQuad(u) {
		return h.ip4, lo, hi, true
	}
	if isIPv6Shape(u, 0, 0) {
		return h.ip6, lo, hi, true
	}
	if !h.brackets || lo != 0 || hi != len(t) || !isDNSName(t) {
		return 0, 0, 0, false // no match: the sub-regexp will say so
	}
	return h.dns, 0, len(t), true
}

// isDottedQuad reports whether b is \d{1,3}(?:\.\d{1,3}){3} (ASCII digits).
func isDottedQuad(b []byte) bool {
	fields, n := 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if n++; n > 3 {
				return false
			}
		case c == '.' && n > 0 && fields < 3:
			fields++
			n = 0
		default:
			return false
		}
	}
	return fields == 3 && n > 0
}

// isDNSName reports whether b is [-.^_\w]*\w over ASCII and holds no ':'.
func isDNSName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isWordByte(int(c)) && c != '-' && c != '.' && c != '^' {
			return false
		}
	}
	return isWordByte(int(b[len(b)-1]))
}

// mappedPrefix returns the length of a leading "::" f{4,6} ":" in b, or 0.
func mappedPrefix(b []byte) int {
	if len(b) < 7 || b[0] != ':' || b[1] != ':' {
		return 0
	}
	n := 2
	for n < len(b) && b[n] == 'f' {
		n++
	}
	if f := n - 2; f < 4 || f > 6 || n >= len(b) || b[n] != ':' {
		return 0
	}
	return n + 1
}

// isIPv6Shape reports whether b[i:] matches, to its end, what is left of
// (?:H{1,4}::?|::){1,7}(?:H{1,4}|:) after k steps (H a hex digit). A step
// of hex digits must run to the next ':' (H excludes ':'), so each step
// has at most two ways on (one ':' or two): at most 2^7 paths.
func isIPv6Shape(b []byte, i, k int) bool {
	if k >= 1 {
		// the last part: 1-4 hex digits or one ':', to the end
		rest := b[i:]
		if len(rest) == 1 && rest[0] == ':' {
			return true
		}
		if n := len(rest); n >= 1 && n <= 4 && hexRun(rest) == n {
			return true
		}
	}
	if k == 7 || i >= len(b) {
		return false
	}
	if n := hexRun(b[i:]); n >= 1 {
		j := i + n
		if n > 4 || j >= len(b) || b[j] != ':' {
			return false
		}
		if isIPv6Shape(b, j+1, k+1) {
			return true
		}
		return j+1 < len(b) && b[j+1] == ':' && isIPv6Shape(b, j+2, k+1)
	}
	return i+1 < len(b) && b[i] == ':' && b[i+1] == ':' && isIPv6Shape(b, i+2, k+1)
}

// hexRun counts the hex digits at the start of b.
func hexRun(b []byte) int {
	n := 0
	for n < len(b) && isHex(rune(b[n])) {
		n++
	}
	return n
}
