package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
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

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) || (i > 0 && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r))) {
			continue
		}
		return false
	}
	return true
}

// readUntil reads a name up to the terminator and consumes it.
func (t *translator) readUntil(term rune, what string) (string, error) {
	s := t.pos
	for t.pos < len(t.src) {
		if t.src[t.pos] == term {
			name := string(t.src[s:t.pos])
			t.pos++
			return name, nil
		}
		t.pos++
	}
	return "", t.errf("missing %c, unterminated %s", term, what)
}

func (t *translator) openGroup() error {
	start := len(t.out)
	fr := frame{saved: t.flags, outStart: start}
	wasStart := t.atStart
	t.atStart = false
	if n, ok := t.peek(); !ok || n != '?' {
		return t.capture("", fr)
	}
	t.pos++
	c, ok := t.peek()
	if !ok {
		return t.errf("unexpected end of pattern")
	}
	t.pos++
	switch c {
	case 'P':
		c2, _ := t.peek()
		t.pos++
		switch c2 {
		case '<':
			name, err := t.readUntil('>', "group name")
			if err != nil {
				return err
			}
			if !isIdent(name) {
				return t.errf("bad character in group name %q", name)
			}
			if t.groupByName(name) != 0 {
				return t.errf("redefinition of group name %q", name)
			}
			return t.capture(name, fr)
		case '=':
			name, err := t.readUntil(')', "group name")
			if err != nil {
				return err
			}
			g := t.groupByName(name)
			if g == 0 {
				return t.errf("unknown group name %q", name)
			}
			return t.backref(g, start)
		default:
			return t.errf("unknown extension ?P%c", c2)
		}
	case ':':
		t.emit("(?:")
	case '#':
		if _, err := t.readUntil(')', "comment"); err != nil {
			return err
		}
		t.atStart = wasStart
		return nil
	case '=', '!':
		fr.kind = frameLook
		t.lookOpen("(?" + string(c))
	case '<':
		c2, _ := t.peek()
		t.pos++
		if c2 != '=' && c2 != '!' {
			return t.errf("unknown extension ?<%c", c2)
		}
		fr.kind = frameLook
		t.lookOpen("(?<" + string(c2))
	case '>':
		fr.kind = frameAtomic
		if t.o.target == targetBT {
			t.emit("(?>")
		} else {
			t.need("atomic group")
			t.emit("(?:")
		}
	case '(':
		ref, err := t.readUntil(')', "name")
		if err != nil {
			return err
		}
		fr.kind = frameCond
		var g int
		if n, err := strconv.Atoi(ref); err == nil && ref[0] >= '0' && ref[0] <= '9' {
			if n == 0 {
				return t.errf("bad group number")
			}
			g = n
			t.condRef = append(t.condRef, condRef{num: n, pos: t.pos})
		} else {
			if !isIdent(ref) {
				return t.errf("bad character in group name %q", ref)
			}
			g = t.groupByName(ref)
			if g == 0 {
				return t.errf("unknown group name %q", ref)
			}
		}
		if t.o.target == targetBT {
			t.emit("(?(" + groupName(g) + ")")
		} else {
			t.need("conditional group")
			t.emit("(?:")
		}
	default:
		return t.flagGroup(c, fr, wasStart)
	}
	t.stack = append(t.stack, fr)
	t.last = atomNone
	return nil
}

func (t *translator) lookOpen(open string) {
	if t.o.target == targetBT {
		t.emit(open)
		return
	}
	t.need("lookaround")
	t.emit("(?:")
}

func (t *translator) capture(name string, fr frame) error {
	t.names = append(t.names, name)
	fr.capIdx = len(t.names) - 1
	t.open[fr.capIdx] = true
	if t.o.target == targetBT {
		t.emit("(?<" + groupName(fr.capIdx) + ">")
	} else {
		t.emit("(")
	}
	t.stack = append(t.stack, fr)
	t.last = atomNone
	return nil
}

func (t *translator) backref(g, start int) error {
	if t.open[g] {
		return t.errf("cannot refer to an open group")
	}
	if t.o.target == targetBT {
		t.emit(`\k<` + groupName(g) + `>`)
	} else {
		t.need("backreference")
		t.emit(`(?s:.*)`)
	}
	t.atom(atomItem, start)
	return nil
}

// flagGroup parses (?aiLmsux) and (?aiLmsux-imsx:...); c is its first letter.
func (t *translator) flagGroup(c rune, fr frame, wasStart bool) error {
	t.pos--
	on, off := pyFlags{}, pyFlags{}
	cur := &on
	seenU := false
	for {
		c, ok := t.peek()
		if !ok {
			return t.errf("missing -, : or )")
		}
		t.pos++
		switch c {
		case 'i':
			cur.i = true
		case 'm':
			cur.m = true
		case 's':
			cur.s = true
		case 'x':
			cur.x = true
		case 'a', 'u':
			if cur == &off {
				return t.errf("bad inline flag: cannot turn off flags 'a', 'u' and 'L'")
			}
			if c == 'a' {
				on.a = true
			} else {
				seenU = true
			}
			if on.a && seenU {
				return t.errf("bad inline flag: flags 'a' and 'u' are incompatible")
			}
		case 'L':
			return t.errf("bad inline flag: cannot use 'L' flag with a str pattern")
		case '-':
			if cur == &off {
				return t.errf("unknown flag")
			}
			cur = &off
		case ')':
			if cur == &off {
				return t.errf("missing :")
			}
			if !wasStart {
				return t.errf("global flags not at the start of the expression")
			}
			t.flags = orFlags(t.flags, on)
			if on.i {
				t.emit("(?i)")
			}
			t.atStart = true
			return nil
		case ':':
			newFlags := orFlags(t.flags, on)
			if off.i {
				newFlags.i = false
			}
			if off.m {
				newFlags.m = false
			}
			if off.s {
				newFlags.s = false
			}
			if off.x {
				newFlags.x = false
			}
			switch {
			case newFlags.i && !t.flags.i:
				t.emit("(?i:")
			case !newFlags.i && t.flags.i:
				t.emit("(?-i:")
			default:
				t.emit("(?:")
			}
			t.flags = newFlags
			t.stack = append(t.stack, fr)
			t.last = atomNone
			return nil
		default:
			return t.errf("unknown extension ?%c", c)
		}
	}
}

func orFlags(a, b pyFlags) pyFlags {
	return pyFlags{i: a.i || b.i, m: a.m || b.m, s: a.s || b.s, x: a.x || b.x, a: a.a || b.a}
}

func (t *translator) closeGroup() error {
	n := len(t.stack)
	if n == 0 {
		return t.errf("unbalanced parenthesis")
	}
	f := t.stack[n-1]
	t.stack = t.stack[:n-1]
	t.flags = f.saved
	if f.capIdx > 0 {
		delete(t.open, f.capIdx)
	}
	if f.kind == frameCond && t.o.target == targetGo && f.alts == 0 {
		t.emit("|") // the missing 'no' branch matches the empty string
	}
	if f.kind == frameLook && t.o.target == targetGo {
		// A dropped assertion only widens the match (relaxed pre-check).
		t.out = append(t.out[:f.outStart], "(?:)"...)
		t.atom(atomItem, f.outStart)
		return nil
	}
	t.emit(")")
	t.atom(atomItem, f.outStart)
	return nil
}
