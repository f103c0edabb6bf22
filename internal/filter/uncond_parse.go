package filter

import "strings"

// rparser reads a Python regex into the tree uncond.go rewrites. It
// knows only what the rewrite needs and refuses the rest (ok false):
// flags, comments, look-behind, atomic and unnamed groups, back-references,
// possessive quantifiers. Character classes and escapes are kept as
// opaque text.
type rparser struct {
	src []rune
	pos int
}

// alt parses alternatives up to ')' or the end; the result is an rAlt
// with more than one branch, else the single rSeq.
func (p *rparser) alt() (*rnode, bool) {
	a := &rnode{kind: rAlt}
	for {
		s, ok := p.seq()
		if !ok {
			return nil, false
		}
		a.subs = append(a.subs, s)
		if p.pos < len(p.src) && p.src[p.pos] == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(a.subs) == 1 {
		return a.subs[0], true
	}
	return a, true
}

func (p *rparser) seq() (*rnode, bool) {
	s := &rnode{kind: rSeq}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '|' || c == ')' {
			break
		}
		var n *rnode
		var ok bool
		switch c {
		case '(':
			n, ok = p.group()
		case '[':
			n, ok = p.class()
		case '\\':
			n, ok = p.escape()
		case '*', '+', '?', '{':
			if c == '{' && !p.isQuant() {
				n, ok = &rnode{kind: rAtom, text: "{"}, true
				p.pos++
				break
			}
			return nil, false // a quantifier with nothing to repeat
		default:
			n, ok = &rnode{kind: rAtom, text: string(c)}, true
			p.pos++
		}
		if !ok {
			return nil, false
		}
		if q, ok := p.quant(); !ok {
			return nil, false
		} else if q != "" {
			if n.quant != "" || n.kind == rAtom && (n.text == "^" || n.text == "$") {
				return nil, false
			}
			n.quant = q
		}
		s.subs = append(s.subs, n)
	}
	return s, true
}

// isQuant reports whether a '{' at pos starts a repeat count.
func (p *rparser) isQuant() bool {
	j := p.pos + 1
	digits := 0
	for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
		j++
		digits++
	}
	if j < len(p.src) && p.src[j] == ',' {
		j++
		for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
			j++
			digits++
		}
	}
	return j < len(p.src) && p.src[j] == '}' && digits > 0
}

// quant reads a quantifier with its lazy mark; possessive forms are
// refused.
func (p *rparser) quant() (string, bool) {
	if p.pos >= len(p.src) {
		return "", true
	}
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '*' || c == '+' || c == '?':
		p.pos++
	case c == '{' && p.isQuant():
		for p.src[p.pos] != '}' {
			p.pos++
		}
		p.pos++
	default:
		return "", true
	}
	if p.pos < len(p.src) && p.src[p.pos] == '?' {
		p.pos++
	} else if p.pos < len(p.src) && p.src[p.pos] == '+' {
		return "", false
	}
	return string(p.src[start:p.pos]), true
}

func (p *rparser) escape() (*rnode, bool) {
	if p.pos+1 >= len(p.src) {
		return nil, false
	}
	c := p.src[p.pos+1]
	n := 2
	switch {
	case c == 'x':
		n = 4
	case c == 'u':
		n = 6
	case c == 'U':
		n = 10
	case c >= '0' && c <= '9', c == 'N', c == 'g':
		return nil, false // back-references, octal, named characters
	}
	if p.pos+n > len(p.src) {
		return nil, false
	}
	t := string(p.src[p.pos : p.pos+n])
	p.pos += n
	return &rnode{kind: rAtom, text: t}, true
}

func (p *rparser) class() (*rnode, bool) {
	start := p.pos
	j := p.pos + 1
	if j < len(p.src) && p.src[j] == '^' {
		j++
	}
	if j < len(p.src) && p.src[j] == ']' {
		j++
	}
	for j < len(p.src) && p.src[j] != ']' {
		if p.src[j] == '\\' {
			j++
		} else if p.src[j] == '[' {
			return nil, false // Python warns about nested sets; keep clear
		}
		j++
	}
	if j >= len(p.src) {
		return nil, false
	}
	p.pos = j + 1
	return &rnode{kind: rAtom, text: string(p.src[start:p.pos])}, true
}

func (p *rparser) group() (*rnode, bool) {
	rest := string(p.src[p.pos:])
	var open string
	switch {
	case strings.HasPrefix(rest, "(?:"), strings.HasPrefix(rest, "(?="), strings.HasPrefix(rest, "(?!"):
		open = rest[:3]
	case strings.HasPrefix(rest, "(?P<"):
		end := strings.IndexByte(rest, '>')
		if end < 0 || !isIdent(rest[4:end]) {
			return nil, false
		}
		p.pos += len([]rune(rest[:end+1]))
		body, ok := p.alt()
		if !ok || !p.close() {
			return nil, false
		}
		return &rnode{kind: rGroup, text: "(?P<", name: rest[4:end], subs: []*rnode{body}}, true
	case strings.HasPrefix(rest, "(?("):
		end := strings.IndexByte(rest, ')')
		if end < 0 || !isIdent(rest[3:end]) {
			return nil, false // numbered references are left to regexp2
		}
		p.pos += len([]rune(rest[:end+1]))
		body, ok := p.alt()
		if !ok || !p.close() {
			return nil, false
		}
		c := &rnode{kind: rCond, name: rest[3:end]}
		switch {
		case body.kind == rSeq:
			c.subs = []*rnode{body, {kind: rSeq}}
		case len(body.subs) == 2:
			c.subs = body.subs
		default:
			return nil, false
		}
		return c, true
	default:
		// unnamed groups, look-behind, flags, comments, atomic groups
		return nil, false
	}
	p.pos += 3
	body, ok := p.alt()
	if !ok || !p.close() {
		return nil, false
	}
	return &rnode{kind: rGroup, text: open, subs: []*rnode{body}}, true
}

func (p *rparser) close() bool {
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
		return true
	}
	return false
}
