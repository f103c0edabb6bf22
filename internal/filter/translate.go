package filter

import (
	"fmt"
	"strconv"
	"strings"
)

// target is the regex engine a translation is written for.
type target int

const (
	// targetGo is Go's regexp (RE2 syntax, linear time).
	targetGo target = iota
	// targetBT is github.com/dlclark/regexp2 (.NET syntax, backtracking).
	targetBT
)

// transOpts select the dialect of a translation.
type transOpts struct {
	target target
	// asciiInput: the subject is known to be pure ASCII, so Unicode classes
	// may be cut down to their ASCII members (same result, faster).
	asciiInput bool
	// multiline is Python's re.MULTILINE given at compile time.
	multiline bool
}

// translation is a Python regex rewritten for one engine.
type translation struct {
	expr string
	// names[i] is the name of capturing group i (1-based, names[0] unused);
	// "" for an unnamed group.
	names []string
	// reasons why Go's engine cannot run the regex exactly (targetGo only).
	// When non-empty, expr is a relaxed version that matches a superset of
	// what Python matches (usable as a pre-check, never for groups).
	reasons []string
}

// syntaxError is a Python regex that Python itself would refuse.
type syntaxError struct {
	msg string
	pos int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at position %d", e.msg, e.pos) }

type pyFlags struct{ i, m, s, x, a bool }

type atomKind int

const (
	atomNone   atomKind = iota // nothing to repeat yet
	atomAnchor                 // zero-width assertion: Python refuses to repeat it
	atomItem                   // something repeatable
	atomRepeat                 // already quantified
)

type frameKind int

const (
	frameGroup  frameKind = iota // (?:...) or capturing
	frameLook                    // lookaround
	frameCond                    // conditional (?(x)a|b)
	frameAtomic                  // (?>...)
)

type frame struct {
	kind     frameKind
	saved    pyFlags
	capIdx   int // capturing group number, 0 if none
	outStart int // output offset of the group's opening
	alts     int // '|' seen directly in this frame
}

type translator struct {
	src     []rune
	pos     int
	o       transOpts
	out     []byte
	flags   pyFlags
	stack   []frame
	names   []string
	open    map[int]bool
	reasons []string
	last    atomKind
	lastAt  int // output offset where the last atom starts
	atStart bool
	condRef []condRef
}

type condRef struct {
	num int
	pos int
}

// translate rewrites a Python re pattern (str pattern, Python 3.11
// semantics) for the target engine.
func translate(py string, o transOpts) (translation, error) {
	t := &translator{src: []rune(py), o: o, open: map[int]bool{}, names: []string{""}, atStart: true}
	t.flags.m = o.multiline
	if err := t.run(); err != nil {
		return translation{}, err
	}
	return translation{expr: string(t.out), names: t.names, reasons: t.reasons}, nil
}

func (t *translator) errf(format string, a ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, a...), pos: t.pos}
}

func (t *translator) need(reason string) {
	for _, r := range t.reasons {
		if r == reason {
			return
		}
	}
	t.reasons = append(t.reasons, reason)
}

func (t *translator) peek() (rune, bool) {
	if t.pos < len(t.src) {
		return t.src[t.pos], true
	}
	return 0, false
}

func (t *translator) emit(s string) { t.out = append(t.out, s...) }

func (t *translator) atom(kind atomKind, start int) {
	t.last, t.lastAt = kind, start
	t.atStart = false
}

// asciiClasses reports whether shorthand classes may be ASCII-only.
func (t *translator) asciiClasses() bool { return t.flags.a || t.o.asciiInput }

func (t *translator) run() error {
	for t.pos < len(t.src) {
		c := t.src[t.pos]
		t.pos++
		if t.flags.x {
			if strings.ContainsRune(" \t\n\r\v\f", c) {
				continue
			}
			if c == '#' {
				for t.pos < len(t.src) && t.src[t.pos] != '\n' {
					t.pos++
				}
				continue
			}
		}
		start := len(t.out)
		switch c {
		case '\\':
			if err := t.escape(); err != nil {
				return err
			}
		case '[':
			if err := t.class(); err != nil {
				return err
			}
			t.atom(atomItem, start)
		case '(':
			if err := t.openGroup(); err != nil {
				return err
			}
		case ')':
			if err := t.closeGroup(); err != nil {
				return err
			}
		case '|':
			if n := len(t.stack); n > 0 {
				f := &t.stack[n-1]
				f.alts++
				if f.kind == frameCond && f.alts > 1 {
					return t.errf("conditional backref with more than two branches")
				}
			}
			t.emit("|")
			t.last = atomNone
			t.atStart = false
		case '*', '+', '?':
			if err := t.quantifier(c); err != nil {
				return err
			}
		case '{':
			if ok, err := t.braces(); err != nil {
				return err
			} else if !ok {
				t.emit(`\{`)
				t.atom(atomItem, start)
			}
		case '.':
			if t.flags.s {
				t.emit(`(?s:.)`)
			} else {
				t.emit(`.`)
			}
			t.atom(atomItem, start)
		case '^':
			if t.flags.m {
				t.emit(`(?m:^)`)
			} else {
				t.emit(`^`)
			}
			t.atom(atomAnchor, start)
		case '$':
			t.dollar()
			t.atom(atomAnchor, start)
		default:
			var b strings.Builder
			writeLiteral(&b, c, t.o.target)
			t.emit(b.String())
			t.atom(atomItem, start)
		}
	}
	if len(t.stack) > 0 {
		return t.errf("missing ), unterminated subpattern")
	}
	for _, r := range t.condRef {
		if r.num >= len(t.names) {
			t.pos = r.pos
			return t.errf("invalid group reference %d", r.num)
		}
	}
	return nil
}

func (t *translator) groupByName(name string) int {
	for i, n := range t.names {
		if i > 0 && n == name {
			return i
		}
	}
	return 0
}

// groupName is the name a capturing group gets in regexp2 output; every
// group is named so that Python's left-to-right numbering survives .NET's
// named-groups-last numbering.
func groupName(i int) string { return "g" + strconv.Itoa(i) }

// dollar handles Python's '$': end of string or before a final newline
// (before any newline under MULTILINE).
func (t *translator) dollar() {
	switch {
	case t.flags.m:
		t.emit(`(?m:$)`)
	case t.o.target == targetBT:
		t.emit(`$`) // .NET's '$' means what Python's does
	case t.tailPosition():
		// Nothing that consumes input can follow, so eating the final
		// newline gives the same match as Python's zero-width test.
		t.emit(`(?:\n?\z)`)
	default:
		t.need("'$' followed by more pattern")
		t.emit(`(?m:$)`)
	}
}

// tailPosition reports whether nothing after the current position can
// consume input, and no open capturing group would see the final newline.
func (t *translator) tailPosition() bool {
	for _, f := range t.stack {
		if f.capIdx > 0 {
			return false
		}
	}
	p := t.pos
	for p < len(t.src) {
		c := t.src[p]
		switch {
		case t.flags.x && strings.ContainsRune(" \t\n\r\v\f", c):
			p++
		case c == ')' || c == '*' || c == '?' || c == '+':
			p++
		case c == '|':
			end, ok := skipAlternatives(t.src, p)
			if !ok {
				return false
			}
			p = end
		default:
			return false
		}
	}
	return true
}

// skipAlternatives skips from a '|' to the ')' closing the current group
// (or the end of the pattern) and returns the index of that ')'.
func skipAlternatives(src []rune, p int) (int, bool) {
	depth := 0
	for p < len(src) {
		switch src[p] {
		case '\\':
			p += 2
			continue
		case '[':
			p++
			if p < len(src) && src[p] == '^' {
				p++
			}
			if p < len(src) && src[p] == ']' {
				p++
			}
			for p < len(src) && src[p] != ']' {
				if src[p] == '\\' {
					p++
				}
				p++
			}
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return p, true
			}
			depth--
		}
		p++
	}
	return p, depth == 0
}

func (t *translator) quantifier(c rune) error {
	q := string(c)
	return t.applyQuant(q)
}

func (t *translator) applyQuant(q string) error {
	switch t.last {
	case atomNone, atomAnchor:
		return t.errf("nothing to repeat")
	case atomRepeat:
		return t.errf("multiple repeat")
	}
	start := t.lastAt
	if n, ok := t.peek(); ok && n == '?' {
		t.pos++
		q += "?"
	} else if ok && n == '+' {
		t.pos++
		if t.o.target == targetBT {
			atom := string(t.out[start:])
			t.out = append(t.out[:start], "(?>"...)
			t.emit(atom + q + ")")
			t.atom(atomRepeat, start)
			return nil
		}
		t.need("possessive quantifier")
	}
	t.emit(q)
	t.atom(atomRepeat, start)
	return nil
}

// braces handles '{' after it was read: a {m,n} quantifier, or false when
// Python reads the brace literally.
func (t *translator) braces() (bool, error) {
	p := t.pos
	digits := func() string {
		s := p
		for p < len(t.src) && t.src[p] >= '0' && t.src[p] <= '9' {
			p++
		}
		return string(t.src[s:p])
	}
	if p < len(t.src) && t.src[p] == '}' {
		return false, nil
	}
	lo := digits()
	hi := lo
	comma := false
	if p < len(t.src) && t.src[p] == ',' {
		p++
		comma = true
		hi = digits()
	}
	if p >= len(t.src) || t.src[p] != '}' {
		return false, nil
	}
	p++
	min, max := 0, -1
	var err error
	if lo != "" {
		if min, err = strconv.Atoi(lo); err != nil || min >= 1<<32-1 {
			return false, t.errf("the repetition number is too large")
		}
	}
	if hi != "" {
		if max, err = strconv.Atoi(hi); err != nil || max >= 1<<32-1 {
			return false, t.errf("the repetition number is too large")
		}
		if max < min {
			return false, t.errf("min repeat greater than max repeat")
		}
	}
	t.pos = p
	var q string
	switch {
	case !comma:
		q = fmt.Sprintf("{%d}", min)
	case max < 0:
		q = fmt.Sprintf("{%d,}", min)
	default:
		q = fmt.Sprintf("{%d,%d}", min, max)
	}
	if t.o.target == targetGo && (min > 1000 || max > 1000) {
		t.need("repeat count above 1000")
	}
	return true, t.applyQuant(q)
}
