package filter

import "regexp/syntax"

// A prefregex such as sshd's (^<prefix><F-CONTENT>.+</F-CONTENT>$)
// matches nearly every line, and running it with captures is the most
// expensive step for lines that pass the literal pre-check but match no
// failregex. When its content is always a suffix of the line's buffer,
// a failregex that matches the content matches that suffix, so a loose
// automaton of the failregex (see newLooseDFA) that does not match the
// whole buffer proves the prefregex's groups are not needed.

// contentIsSuffix reports whether the content group of the prefregex p
// (translated for ASCII subjects) always ends the buffer: it is a
// top-level group that cannot match a newline, followed only by an
// optional newline and the end of the text. Then, since a buffer always
// ends with "\n", content + "\n" is the buffer's tail. A prefregex
// without content leaves the buffer as it is, which is a suffix too.
func contentIsSuffix(p *pattern) bool {
	ci, ok := p.index["content"]
	if !ok {
		return true
	}
	re, err := syntax.Parse(p.asciiExpr, syntax.Perl)
	if err != nil {
		return false
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat {
		return false
	}
	for i, sub := range re.Sub {
		if sub.Op != syntax.OpCapture || sub.Cap != ci {
			continue
		}
		if !noNewline(sub.Sub[0]) {
			return false
		}
		ends := false // the end of the text must be asserted
		for _, tail := range re.Sub[i+1:] {
			if !endOnly(tail) {
				return false
			}
			ends = ends || hasEndText(tail)
		}
		return ends
	}
	return false
}

// noNewline reports whether no match of re can contain "\n".
func noNewline(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpAnyChar:
		return false
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if r == '\n' {
				return false
			}
		}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= '\n' && '\n' <= re.Rune[i+1] {
				return false
			}
		}
	}
	for _, sub := range re.Sub {
		if !noNewline(sub) {
			return false
		}
	}
	return true
}

// endOnly reports whether re matches at most a "\n" and then the end of
// the text: \z, \n?, and groups or sequences of those.
func endOnly(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEndText, syntax.OpEmptyMatch:
		return true
	case syntax.OpQuest:
		s := re.Sub[0]
		return s.Op == syntax.OpLiteral && len(s.Rune) == 1 && s.Rune[0] == '\n'
	case syntax.OpCapture:
		return endOnly(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !endOnly(s) {
				return false
			}
		}
		return true
	}
	return false
}

func hasEndText(re *syntax.Regexp) bool {
	if re.Op == syntax.OpEndText {
		return true
	}
	if re.Op == syntax.OpQuest {
		return false
	}
	for _, s := range re.Sub {
		if hasEndText(s) {
			return true
		}
	}
	return false
}

// contentMayMatch reports whether some failregex that passed the literal
// check might match the prefregex's content of buf (pure ASCII, one
// line, Filter.suffix set); false is certain.
func (f *Filter) contentMayMatch(buf []byte) bool {
	for _, p := range f.fail {
		if !p.passes(f.found) {
			continue
		}
		d := p.ascii.loose
		if d == nil {
			return true
		}
		if m, ok := d.match(buf); m || !ok {
			return true
		}
	}
	return false
}
