package filter

import (
	"strconv"
	"unicode"
)

// Group syntax: (?P<name>...), (?:...), look-around, conditionals, atomic
// groups, comments and inline flags.

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
