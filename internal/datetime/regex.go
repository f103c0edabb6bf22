package datetime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds a parser for the subset of Python's regular expression
// syntax that date templates use. Date patterns are tiny, so a small
// backtracking engine (engine.go) beats a general regex library by an
// order of magnitude here, and it keeps Python's leftmost-first semantics.
// Anything outside the subset makes compile fail with errUnsupported and the
// template falls back to regexp2.

var errUnsupported = errors.New("unsupported regex construct")

type opcode uint8

const (
	opClass   opcode = iota // one character from cls, repeated min..max
	opString                // literal ASCII text (folded when icase)
	opGroup                 // alternatives, repeated min..max, optional capture slot
	opBackref               // text of capture slot
	opAssert                // zero-width assertion (kind)
	opLook                  // lookahead / lookbehind over alternatives
	opCond                  // (?(slot)yes|no)
)

// Assertion kinds for opAssert.
const (
	asBegin     = iota // ^ and \A
	asEnd              // $ (also before a final newline)
	asEndAbs           // \Z
	asWordB            // \b
	asNotWordB         // \B
	asWordStart        // (?=^|\b|\W), the begin boundary of date templates
	asWordEnd          // (?=\b|\W|$), their end boundary
	asSave             // record the position in caps[slot] (flattened group)
)

type node struct {
	op       opcode
	cls      *charClass
	str      string
	min, max int // max < 0: unbounded
	lazy     bool
	alts     [][]*node
	slot     int // capture slot, -1 none
	kind     int // assertion kind
	neg      bool
	behind   bool
	width    int // lookbehind width in characters

	// For groups: per alternative, the bytes it can start with (unless it
	// can match empty), and whether every alternative is a plain run of
	// strings and single, possibly optional, characters.
	altFirst []byteSet
	altEmpty []bool
	simple   bool
}

// byteSet is a set of byte values.
type byteSet [4]uint64

func (b *byteSet) has(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }

// program is a parsed regex.
type program struct {
	top      [][]*node
	ncap     int
	names    map[string]int
	icase    bool
	anchored bool      // every alternative starts with ^
	first    [256]bool // bytes a match can start with
	anyFirst bool      // no usable first-byte set
	anchor   anchorLit // required literal, if any
}

// anchorLit is a literal every match contains at a bounded distance
// (in characters) from its start.
type anchorLit struct {
	lit            string
	minOff, maxOff int
}

type parser struct {
	src   string
	pos   int
	icase bool
	ncap  int
	names map[string]int
}

// parseRegex parses a Python-dialect regex into a program.
func parseRegex(src string) (*program, error) {
	p := &parser{src: src, names: map[string]int{}}
	// Global flags such as (?iu) at the very start.
	for strings.HasPrefix(p.src[p.pos:], "(?") {
		end := strings.IndexByte(p.src[p.pos:], ')')
		if end < 0 {
			break
		}
		flags := p.src[p.pos+2 : p.pos+end]
		if flags == "" || strings.Trim(flags, "iuLa") != "" {
			break
		}
		if strings.ContainsRune(flags, 'i') {
			p.icase = true
		}
		p.pos += end + 1
	}
	p.ncap = 1 // slot 0 is the whole match
	alts, err := p.alternation()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, fmt.Errorf("unbalanced parenthesis at %d: %w", p.pos, errUnsupported)
	}
	if len(alts) == 1 {
		alts[0] = flatten(alts[0])
	}
	prog := &program{top: alts, ncap: p.ncap, names: p.names, icase: p.icase}
	prog.anchored = true
	for _, a := range alts {
		if len(a) == 0 || a[0].op != opAssert || a[0].kind != asBegin {
			prog.anchored = false
		}
	}
	var set [256]bool
	if canEmpty := firstOfAlts(alts, &set); canEmpty {
		prog.anyFirst = true
	} else {
		prog.first = set
	}
	if len(alts) == 1 {
		prog.anchor = findAnchor(alts[0], prog.icase)
	}
	return prog, nil
}

func (p *parser) more() bool { return p.pos < len(p.src) }

func (p *parser) alternation() ([][]*node, error) {
	var alts [][]*node
	for {
		seq, err := p.sequence()
		if err != nil {
			return nil, err
		}
		alts = append(alts, seq)
		if p.more() && p.src[p.pos] == '|' {
			p.pos++
			continue
		}
		return alts, nil
	}
}

func (p *parser) sequence() ([]*node, error) {
	var seq []*node
	for p.more() {
		c := p.src[p.pos]
		if c == '|' || c == ')' {
			break
		}
		if len(seq) > 0 && seq[len(seq)-1].op == opString {
			// plain characters after literal text join it as atom,
			// quantifier and the merge below would, without a node each
			if j := p.plainRun(); j > p.pos {
				seq[len(seq)-1].str += p.src[p.pos:j]
				p.pos = j
				continue
			}
		}
		n, err := p.atom()
		if err != nil {
			return nil, err
		}
		if n == nil {
			continue
		}
		if err := p.quantifier(n); err != nil {
			return nil, err
		}
		// Merge runs of plain literal text.
		if n.op == opString && len(seq) > 0 {
			if last := seq[len(seq)-1]; last.op == opString {
				last.str += n.str
				continue
			}
		}
		seq = append(seq, n)
	}
	return seq, nil
}

// plainRun returns where the run of plain ASCII characters at p.pos ends:
// characters atom reads as themselves, none followed by anything that may
// quantify it (then quantifier leaves it alone).
func (p *parser) plainRun() int {
	j := p.pos
	for j < len(p.src) && isPlainByte(p.src[j]) && (j+1 == len(p.src) || !strings.ContainsRune("?*+{", rune(p.src[j+1]))) {
		j++
	}
	return j
}

// isPlainByte reports whether atom reads c as a literal character.
func isPlainByte(c byte) bool {
	return c < utf8.RuneSelf && !strings.ContainsRune(`([.^$\*+?|){`, rune(c))
}

func (p *parser) quantifier(n *node) error {
	if !p.more() {
		return nil
	}
	min, max := -1, -1
	switch c := p.src[p.pos]; c {
	case '?':
		min, max = 0, 1
		p.pos++
	case '*':
		min, max = 0, -1
		p.pos++
	case '+':
		min, max = 1, -1
		p.pos++
	case '{':
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return nil // a literal brace, as in Python
		}
		body := p.src[p.pos+1 : p.pos+end]
		lo, hi, ok := parseBraces(body)
		if !ok {
			return nil
		}
		min, max = lo, hi
		p.pos += end + 1
	default:
		return nil
	}
	lazy := false
	if p.more() && p.src[p.pos] == '?' {
		lazy = true
		p.pos++
	}
	if p.more() && (p.src[p.pos] == '+' || p.src[p.pos] == '*') {
		return fmt.Errorf("possessive or repeated quantifier: %w", errUnsupported)
	}
	switch n.op {
	case opAssert, opLook, opBackref, opCond:
		return fmt.Errorf("quantified assertion: %w", errUnsupported)
	case opString:
		if len(n.str) > 1 {
			// Only the last character is quantified: split it off.
			return fmt.Errorf("internal: quantified string: %w", errUnsupported)
		}
		*n = node{op: opClass, cls: n.cls, slot: -1}
	}
	if n.min != 1 || n.max != 1 {
		// Already quantified (e.g. a group that carries a count): wrap.
		inner := *n
		*n = node{op: opGroup, alts: [][]*node{{&inner}}, slot: -1}
	}
	n.min, n.max, n.lazy = min, max, lazy
	if n.op == opGroup {
		n.analyzeAlts()
	}
	return nil
}

// literal returns a node matching one character (case-folded when icase).
func (p *parser) literal(r rune) *node {
	cls := &charClass{}
	if r < utf8.RuneSelf {
		cls.addASCII(byte(r))
		if p.icase && isASCIILetter(byte(r)) {
			cls.addASCII(byte(r) ^ 0x20)
			addFoldPartners(cls, r)
		}
	} else {
		cls.items = append(cls.items, classItem{lo: r, hi: r})
		if p.icase {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				if f < utf8.RuneSelf {
					cls.addASCII(byte(f))
				} else {
					cls.items = append(cls.items, classItem{lo: f, hi: f})
				}
			}
		}
	}
	n := &node{op: opClass, cls: cls, min: 1, max: 1, slot: -1}
	if r < utf8.RuneSelf && !p.followedByQuantifier() {
		n.op, n.str = opString, string(r)
	}
	return n
}

func (p *parser) followedByQuantifier() bool {
	if !p.more() {
		return false
	}
	switch p.src[p.pos] {
	case '?', '*', '+':
		return true
	case '{':
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return false
		}
		_, _, ok := parseBraces(p.src[p.pos+1 : p.pos+end])
		return ok
	}
	return false
}

func (p *parser) atom() (*node, error) {
	r, size := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += size
	switch r {
	case '(':
		return p.group()
	case '[':
		cls, err := p.class()
		if err != nil {
			return nil, err
		}
		return &node{op: opClass, cls: cls, min: 1, max: 1, slot: -1}, nil
	case '.':
		cls := &charClass{neg: true}
		cls.addASCII('\n')
		for b := 0; b < 128; b++ {
			cls.ascii[b>>6] ^= 1 << (b & 63)
		}
		return &node{op: opClass, cls: cls, min: 1, max: 1, slot: -1}, nil
	case '^':
		return &node{op: opAssert, kind: asBegin, slot: -1}, nil
	case '$':
		return &node{op: opAssert, kind: asEnd, slot: -1}, nil
	case '\\':
		return p.escape()
	case '*', '+', '?':
		return nil, fmt.Errorf("nothing to repeat at %d: %w", p.pos-1, errUnsupported)
	}
	return p.literal(r), nil
}

func (p *parser) escape() (*node, error) {
	if !p.more() {
		return nil, fmt.Errorf("trailing backslash: %w", errUnsupported)
	}
	c := p.src[p.pos]
	p.pos++
	switch c {
	case 'b':
		return &node{op: opAssert, kind: asWordB, slot: -1}, nil
	case 'B':
		return &node{op: opAssert, kind: asNotWordB, slot: -1}, nil
	case 'A':
		return &node{op: opAssert, kind: asBegin, slot: -1}, nil
	case 'Z':
		return &node{op: opAssert, kind: asEndAbs, slot: -1}, nil
	case 'd', 'D', 'w', 'W', 's', 'S':
		cls := &charClass{}
		addShorthand(cls, c)
		return &node{op: opClass, cls: cls, min: 1, max: 1, slot: -1}, nil
	}
	if c >= '1' && c <= '9' {
		v := int(c - '0')
		if p.more() && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			v = v*10 + int(p.src[p.pos]-'0')
			p.pos++
		}
		if v >= p.ncap {
			return nil, fmt.Errorf("invalid group reference %d: %w", v, errUnsupported)
		}
		return &node{op: opBackref, slot: v}, nil
	}
	p.pos--
	r, err := p.escapedRune()
	if err != nil {
		return nil, err
	}
	return p.literal(r), nil
}

// escapedRune decodes an escape that stands for one character (after '\').
func (p *parser) escapedRune() (rune, error) {
	r, size := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += size
	switch r {
	case 'n':
		return '\n', nil
	case 't':
		return '\t', nil
	case 'r':
		return '\r', nil
	case 'f':
		return '\f', nil
	case 'v':
		return '\v', nil
	case 'a':
		return '\a', nil
	case '0':
		return 0, nil
	case 'x':
		if p.pos+2 > len(p.src) {
			return 0, fmt.Errorf("bad \\x escape: %w", errUnsupported)
		}
		v, err := strconv.ParseUint(p.src[p.pos:p.pos+2], 16, 8)
		if err != nil {
			return 0, fmt.Errorf("bad \\x escape: %w", errUnsupported)
		}
		p.pos += 2
		return rune(v), nil
	}
	if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
		return 0, fmt.Errorf("unknown escape \\%c: %w", r, errUnsupported)
	}
	return r, nil
}

func (p *parser) class() (*charClass, error) {
	cls := &charClass{}
	neg := false
	if p.more() && p.src[p.pos] == '^' {
		neg = true
		p.pos++
	}
	first := true
	for {
		if !p.more() {
			return nil, fmt.Errorf("unterminated character set: %w", errUnsupported)
		}
		c := p.src[p.pos]
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		var lo rune
		if c == '\\' {
			p.pos++
			if !p.more() {
				return nil, fmt.Errorf("trailing backslash: %w", errUnsupported)
			}
			switch e := p.src[p.pos]; e {
			case 'd', 'D', 'w', 'W', 's', 'S':
				p.pos++
				addShorthand(cls, e)
				continue
			}
			r, err := p.escapedRune()
			if err != nil {
				return nil, err
			}
			lo = r
		} else {
			r, size := utf8.DecodeRuneInString(p.src[p.pos:])
			p.pos += size
			lo = r
		}
		hi := lo
		if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
			p.pos++
			if p.src[p.pos] == '\\' {
				p.pos++
				r, err := p.escapedRune()
				if err != nil {
					return nil, err
				}
				hi = r
			} else {
				r, size := utf8.DecodeRuneInString(p.src[p.pos:])
				p.pos += size
				hi = r
			}
			if hi < lo {
				return nil, fmt.Errorf("bad character range: %w", errUnsupported)
			}
		}
		p.addRange(cls, lo, hi)
	}
	if neg {
		for i := range cls.ascii {
			cls.ascii[i] = ^cls.ascii[i]
		}
		cls.neg = true
	}
	return cls, nil
}

func (p *parser) addRange(cls *charClass, lo, hi rune) {
	for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
		cls.addASCII(byte(r))
		if p.icase && isASCIILetter(byte(r)) {
			cls.addASCII(byte(r) ^ 0x20)
			addFoldPartners(cls, r)
		}
	}
	if hi >= utf8.RuneSelf {
		if lo < utf8.RuneSelf {
			lo = utf8.RuneSelf
		}
		cls.items = append(cls.items, classItem{lo: lo, hi: hi})
	}
}

func (p *parser) group() (*node, error) {
	// The boundary look-aheads fail2ban wraps every template in become
	// plain assertions.
	for lit, kind := range map[string]int{`?=^|\b|\W)`: asWordStart, `?=\b|\W|$)`: asWordEnd} {
		if strings.HasPrefix(p.src[p.pos:], lit) {
			p.pos += len(lit)
			return &node{op: opAssert, kind: kind, slot: -1}, nil
		}
	}
	n := &node{op: opGroup, min: 1, max: 1, slot: -1}
	if strings.HasPrefix(p.src[p.pos:], "?") {
		rest := p.src[p.pos+1:]
		switch {
		case strings.HasPrefix(rest, ":"):
			p.pos += 2
		case strings.HasPrefix(rest, "P<"):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return nil, fmt.Errorf("bad group name: %w", errUnsupported)
			}
			name := rest[2:end]
			if !validGroupName(name) {
				return nil, fmt.Errorf("bad group name %q: %w", name, errUnsupported)
			}
			if _, dup := p.names[name]; dup {
				return nil, fmt.Errorf("redefinition of group name %q: %w", name, errUnsupported)
			}
			p.pos += 1 + end + 1
			n.slot = p.ncap
			p.names[name] = p.ncap
			p.ncap++
		case strings.HasPrefix(rest, "P="):
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return nil, fmt.Errorf("bad group reference: %w", errUnsupported)
			}
			slot, ok := p.names[rest[2:end]]
			if !ok {
				return nil, fmt.Errorf("unknown group %q: %w", rest[2:end], errUnsupported)
			}
			p.pos += 1 + end + 1
			return &node{op: opBackref, slot: slot}, nil
		case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"):
			n.op, n.neg = opLook, rest[0] == '!'
			p.pos += 2
		case strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"):
			n.op, n.neg, n.behind = opLook, rest[1] == '!', true
			p.pos += 3
		case strings.HasPrefix(rest, "("):
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return nil, fmt.Errorf("bad condition: %w", errUnsupported)
			}
			name := rest[1:end]
			slot, ok := p.names[name]
			if !ok {
				v, err := strconv.Atoi(name)
				if err != nil || v <= 0 || v >= p.ncap {
					return nil, fmt.Errorf("unknown group %q: %w", name, errUnsupported)
				}
				slot = v
			}
			p.pos += 1 + end + 1
			n.op, n.slot = opCond, slot
		default:
			return nil, fmt.Errorf("group extension at %d: %w", p.pos, errUnsupported)
		}
	} else {
		n.slot = p.ncap
		p.ncap++
	}
	alts, err := p.alternation()
	if err != nil {
		return nil, err
	}
	if !p.more() || p.src[p.pos] != ')' {
		return nil, fmt.Errorf("missing ): %w", errUnsupported)
	}
	p.pos++
	n.alts = alts
	n.analyzeAlts()
	if n.op == opCond && len(alts) > 2 {
		return nil, fmt.Errorf("conditional with more than two branches: %w", errUnsupported)
	}
	if n.op == opLook && n.behind {
		w, ok := fixedWidth(alts)
		if !ok {
			return nil, fmt.Errorf("look-behind requires fixed-width pattern: %w", errUnsupported)
		}
		n.width = w
	}
	return n, nil
}

func validGroupName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}
