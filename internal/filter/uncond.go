package filter

import "strings"

// Conditional groups (?(name)yes|no) and look-aheads send a regex to the
// backtracking engine, which is slow where a failing first attempt makes
// it try every way through the rest of the pattern (sshd's "Failed ..."
// failregex costs some 10 µs a line that way). unconditional rewrites
// such a regex, in Python's dialect, into one Go's engine runs exactly:
//
//  1. A choice that decides whether a referenced group takes part, (?P<g>x)?
//     or a group whose alternatives do or do not hold g, is distributed over
//     the rest of the pattern: "(?:A|B)REST" becomes "(?:A REST|B REST)".
//     A backtracking engine tries the paths of both forms in the same order,
//     and Go's engine picks the path a backtracking engine would pick first
//     (leftmost-first), so the match and every group stay the same. In each
//     copy of REST it is known whether g took part, so (?(g)yes|no) becomes
//     yes or no there. The alternation this gives is then split into
//     separate regexes (see unconditional).
//  2. (?:(?!L).)*? followed by the literal L (L a short word between
//     spaces, such as " from ") can only stop at the first L ahead; it
//     becomes a class-based expression for "text without L that does not
//     end in L's first len(L)-1 bytes", which has exactly one way to be
//     followed by L.
//  3. (?:(?!L).)* followed by $ at the end of the pattern (not MULTILINE)
//     must consume the rest of the line, which must then hold no L: it
//     becomes an expression for "text without L and without a newline".
//
// Anything else (look-behind, back-references, flags, unnamed groups,
// quantified choices) leaves the regex as it is. The differential tests
// compare the result with the original on regexp2 and with Python.

type rkind int

const (
	rAtom  rkind = iota // a character, escape, class, '.', '^' or '$'
	rSeq                // concatenation
	rAlt                // alternation: subs are the branches
	rGroup              // (...) of any kind; subs[0] is the body
	rCond               // (?(name)yes|no); subs[0] yes, subs[1] no (may be an empty seq)
)

type rnode struct {
	kind  rkind
	text  string // rAtom: its source; rGroup: the opening, e.g. "(?:" or "(?P<"
	name  string // rGroup capture name, rCond reference
	quant string // quantifier after the node, "" if none
	subs  []*rnode
	dist  bool // a group made by distribution (its body is an rAlt)
}

// unconditional returns src rewritten as described above, as a list of
// regexes (Python dialect) to try in order: the first that matches gives
// the match and groups src gives. ok is false when src has no conditional
// or cannot be rewritten.
//
// The rewrite distributes into one alternation "^P(?:A1|A2|...)"; Go runs
// a regex of that size (several copies of <HOST>) on its slow NFA, so it
// is split into "^P A1", "^P A2", ... That is exact when every way P can
// match covers the same text (then each Ai sees the same text whichever
// way P went, and the first way of P is the first in both forms):
// uniqueSpan checks a simple sufficient form of P.
func unconditional(src string, multiline bool) ([]string, bool) {
	if multiline || !strings.Contains(src, "(?(") {
		return nil, false
	}
	p := &rparser{src: []rune(src)}
	root, ok := p.alt()
	if !ok || p.pos != len(p.src) || root.kind != rSeq {
		return nil, false
	}
	refs := map[string]bool{}
	collectRefs(root, refs)
	u := &uncond{refs: refs}
	out := u.dist(root.subs, map[string]bool{})
	if u.failed {
		return nil, false
	}
	u.lookaheads(out, nil)
	if u.failed || hasBacktrackOnly(out) {
		return nil, false
	}
	items := flatSeq(out.subs)
	k := len(items) - 1
	if k < 1 || !items[k].dist || !uniqueSpan(items[:k]) {
		return nil, false
	}
	var parts []string
	for _, alt := range flatten(items[k]) {
		var sb strings.Builder
		u.seen = map[string]int{}
		for _, n := range append(append([]*rnode(nil), items[:k]...), alt...) {
			u.print(&sb, n)
		}
		if u.failed || u.copies > 0 {
			return nil, false
		}
		parts = append(parts, sb.String())
	}
	return parts, true
}

// flatSeq splices nested sequences into one list of items.
func flatSeq(items []*rnode) []*rnode {
	var out []*rnode
	for _, it := range items {
		if it.kind == rSeq && it.quant == "" {
			out = append(out, flatSeq(it.subs)...)
		} else {
			out = append(out, it)
		}
	}
	return out
}

// flatten lists the alternatives of a distribution group, with nested
// distribution groups at their ends spliced in: (?:A(?:B|C)|D) gives
// AB, AC, D, which an alternation tries in the same order.
func flatten(g *rnode) [][]*rnode {
	var out [][]*rnode
	for _, br := range g.subs[0].subs {
		items := flatSeq([]*rnode{br})
		if n := len(items); n > 0 && items[n-1].dist {
			for _, tail := range flatten(items[n-1]) {
				out = append(out, append(append([]*rnode(nil), items[:n-1]...), tail...))
			}
			continue
		}
		out = append(out, items)
	}
	return out
}

// uniqueSpan reports whether the prefix P = items surely matches one
// stretch of text whichever way it goes: it starts with ^, and every item
// that is not a plain character is followed by a plain character c that
// it cannot match, so it ends at the first c after its start.
func uniqueSpan(items []*rnode) bool {
	if len(items) == 0 || items[0].kind != rAtom || items[0].text != "^" || items[0].quant != "" {
		return false
	}
	for i := 1; i < len(items); i++ {
		if literalAtom(items[i]) {
			continue
		}
		if i+1 >= len(items) || !literalAtom(items[i+1]) || !excludes(items[i], litChar(items[i+1])) {
			return false
		}
	}
	return true
}

func literalAtom(n *rnode) bool {
	if n.kind != rAtom || n.quant != "" {
		return false
	}
	t := n.text
	return len(t) == 1 && !strings.ContainsAny(t, ".^$|()[]{}*+?\\") ||
		len(t) == 2 && t[0] == '\\' && strings.ContainsRune("\\.^$|()[]{}*+?-:/ #", rune(t[1]))
}

func litChar(n *rnode) byte { return n.text[len(n.text)-1] }

// excludes reports whether n surely cannot match the byte c (c is a
// plain ASCII character).
func excludes(n *rnode, c byte) bool {
	switch n.kind {
	case rAtom:
		t := n.text
		switch {
		case literalAtom(&rnode{kind: rAtom, text: t}):
			return t[len(t)-1] != c
		case t == `\S`:
			return c == ' '
		case t == `\d`:
			return c < '0' || c > '9'
		case t == `\w`:
			return !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
		}
		return false
	case rSeq, rAlt:
		for _, s := range n.subs {
			if !excludes(s, c) {
				return false
			}
		}
		return true
	case rGroup:
		return (n.text == "(?:" || n.text == "(?P<") && excludes(n.subs[0], c)
	}
	return false
}

func collectRefs(n *rnode, refs map[string]bool) {
	if n.kind == rCond {
		refs[n.name] = true
	}
	for _, s := range n.subs {
		collectRefs(s, refs)
	}
}

// hasBacktrackOnly reports whether conditionals or look-arounds remain.
func hasBacktrackOnly(n *rnode) bool {
	if n.kind == rCond || n.kind == rGroup && (n.text == "(?=" || n.text == "(?!") {
		return true
	}
	for _, s := range n.subs {
		if hasBacktrackOnly(s) {
			return true
		}
	}
	return false
}

type uncond struct {
	refs   map[string]bool
	failed bool
	seen   map[string]int // names printed so far (print)
	copies int
}

func copyEnv(env map[string]bool, name string, v bool) map[string]bool {
	out := make(map[string]bool, len(env)+1)
	for k, x := range env {
		out[k] = x
	}
	out[name] = v
	return out
}

// decides reports, for a branch of a choice, which referenced groups
// surely take part (true) or surely do not (false) when the branch
// matches; ok is false when that depends on more than the branch choice.
func (u *uncond) decides(n *rnode, out map[string]bool) bool {
	switch n.kind {
	case rAtom:
		return true
	case rCond:
		return !u.mentions(n)
	case rSeq:
		for _, s := range n.subs {
			if !u.decides(s, out) {
				return false
			}
		}
		return true
	case rAlt:
		return !u.mentions(n)
	}
	// rGroup
	if n.quant != "" {
		return !u.mentions(n)
	}
	if n.text == "(?P<" && u.refs[n.name] {
		out[n.name] = true
	}
	if n.text == "(?=" || n.text == "(?!" {
		return !u.mentions(n)
	}
	return u.decides(n.subs[0], out)
}

// mentions reports whether n holds a capture of a referenced group.
func (u *uncond) mentions(n *rnode) bool {
	if n.kind == rGroup && n.text == "(?P<" && u.refs[n.name] {
		return true
	}
	for _, s := range n.subs {
		if u.mentions(s) {
			return true
		}
	}
	return false
}

// resolve replaces, inside n, conditionals on groups known in env.
func (u *uncond) resolve(n *rnode, env map[string]bool) *rnode {
	if n.kind == rCond {
		if v, ok := env[n.name]; ok {
			if n.quant != "" {
				u.failed = true
				return n
			}
			b := n.subs[1]
			if v {
				b = n.subs[0]
			}
			return &rnode{kind: rGroup, text: "(?:", subs: []*rnode{u.resolve(b, env)}}
		}
	}
	c := *n
	c.subs = make([]*rnode, len(n.subs))
	for i, s := range n.subs {
		c.subs[i] = u.resolve(s, env)
	}
	return &c
}

// dist rewrites the concatenation items, given what env knows about
// referenced groups, distributing deciding choices over what follows.
func (u *uncond) dist(items []*rnode, env map[string]bool) *rnode {
	seq := &rnode{kind: rSeq}
	for i, it := range items {
		rest := items[i+1:]
		if it.kind == rGroup && it.text == "(?P<" && u.refs[it.name] && (it.quant == "?" || it.quant == "??") {
			// (?P<g>x)? : with g, then without
			with := *it
			with.quant = ""
			withN := u.resolve(&with, env)
			a := &rnode{kind: rSeq, subs: []*rnode{withN, u.dist(rest, copyEnv(env, it.name, true))}}
			b := &rnode{kind: rSeq, subs: []*rnode{u.dist(rest, copyEnv(env, it.name, false))}}
			alt := &rnode{kind: rAlt, subs: []*rnode{a, b}}
			if it.quant == "??" {
				alt.subs[0], alt.subs[1] = b, a
			}
			seq.subs = append(seq.subs, &rnode{kind: rGroup, text: "(?:", subs: []*rnode{alt}, dist: true})
			return seq
		}
		if it.kind == rGroup && it.quant == "" && (it.text == "(?:" || it.text == "(?P<") &&
			it.subs[0].kind == rAlt && u.mentions(it.subs[0]) {
			// (?:A|B)REST → (?:(?:A)REST|(?:B)REST), each knowing its groups
			alt := &rnode{kind: rAlt}
			for _, br := range it.subs[0].subs {
				known := map[string]bool{}
				if !u.decides(br, known) {
					u.failed = true
					return seq
				}
				e := env
				for name := range u.refs {
					if _, ok := env[name]; !ok && u.mentionsName(it.subs[0], name) {
						e = copyEnv(e, name, known[name])
					}
				}
				one := *it
				one.subs = []*rnode{u.resolve(br, env)}
				alt.subs = append(alt.subs, &rnode{kind: rSeq, subs: []*rnode{&one, u.dist(rest, e)}})
			}
			seq.subs = append(seq.subs, &rnode{kind: rGroup, text: "(?:", subs: []*rnode{alt}, dist: true})
			return seq
		}
		if u.mentions(it) && !(it.kind == rGroup && it.text == "(?P<" && it.quant == "" && !u.mentions(it.subs[0])) {
			// a referenced group decided in a way not handled here
			u.failed = true
			return seq
		}
		r := u.resolve(it, env)
		if it.kind == rGroup && it.text == "(?P<" && u.refs[it.name] {
			// a plain (?P<g>...): g takes part from here on
			env = copyEnv(env, it.name, true)
		}
		seq.subs = append(seq.subs, r)
	}
	return seq
}

func (u *uncond) mentionsName(n *rnode, name string) bool {
	if n.kind == rGroup && n.text == "(?P<" && n.name == name {
		return true
	}
	for _, s := range n.subs {
		if u.mentionsName(s, name) {
			return true
		}
	}
	return false
}

// lookaheads applies rewrites 2 and 3 inside n; follow is what comes
// after n in the pattern, nil at the end, or [nil] when unknown.
func (u *uncond) lookaheads(n *rnode, follow []*rnode) {
	if lit, lazy, ok := notLitLoop(n); ok {
		switch {
		case lazy && followedBy(follow, lit):
			*n = rnode{kind: rGroup, text: "(?:", subs: []*rnode{{kind: rAtom, text: avoiding(lit, false)}}}
			return
		case !lazy && len(follow) == 1 && follow[0] != nil &&
			follow[0].kind == rAtom && follow[0].text == "$":
			*n = rnode{kind: rGroup, text: "(?:", subs: []*rnode{{kind: rAtom, text: avoiding(lit, true)}}}
			return
		}
	}
	switch n.kind {
	case rSeq:
		for i, s := range n.subs {
			f := append(append([]*rnode(nil), n.subs[i+1:]...), follow...)
			u.lookaheads(s, f)
		}
	case rAlt:
		for _, s := range n.subs {
			u.lookaheads(s, follow)
		}
	case rGroup, rCond:
		if n.quant != "" || n.text == "(?=" || n.text == "(?!" {
			follow = []*rnode{nil}
		}
		for _, s := range n.subs {
			u.lookaheads(s, follow)
		}
	}
}

// notLitLoop recognises (?:(?!L).)* and (?:(?!L).)*? with L a short
// literal of word characters between spaces.
func notLitLoop(n *rnode) (lit string, lazy, ok bool) {
	if n.kind != rGroup || n.text != "(?:" || (n.quant != "*" && n.quant != "*?") {
		return "", false, false
	}
	body := n.subs[0]
	if body.kind != rSeq || len(body.subs) != 2 {
		return "", false, false
	}
	la, dot := body.subs[0], body.subs[1]
	if la.kind != rGroup || la.text != "(?!" || la.quant != "" || dot.kind != rAtom || dot.text != "." || dot.quant != "" {
		return "", false, false
	}
	l, ok := literalText(la.subs[0])
	if !ok || !simpleLit(l) {
		return "", false, false
	}
	return l, n.quant == "*?", true
}

// literalText returns the text a sequence of plain characters matches.
func literalText(n *rnode) (string, bool) {
	if n.kind != rSeq {
		return "", false
	}
	var sb strings.Builder
	for _, a := range n.subs {
		if a.kind != rAtom || a.quant != "" || !plainChar(a.text) {
			return "", false
		}
		sb.WriteString(a.text)
	}
	return sb.String(), true
}

func plainChar(s string) bool {
	return len(s) == 1 && (s[0] == ' ' || s[0] == '_' || s[0] >= '0' && s[0] <= '9' ||
		s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}

// simpleLit: a space, then at least one word character, then a space;
// the space occurs nowhere else, so a partial match of L can only restart
// at a space (what avoiding relies on).
func simpleLit(l string) bool {
	if len(l) < 3 || l[0] != ' ' || l[len(l)-1] != ' ' {
		return false
	}
	return !strings.Contains(l[1:len(l)-1], " ")
}

// followedBy reports whether the nodes in follow surely begin with lit.
func followedBy(follow []*rnode, lit string) bool {
	var sb strings.Builder
	var walk func(ns []*rnode) bool // false: stop
	walk = func(ns []*rnode) bool {
		for _, n := range ns {
			if sb.Len() >= len(lit) {
				return false
			}
			switch {
			case n == nil:
				return false
			case n.kind == rAtom && n.quant == "" && plainChar(n.text):
				sb.WriteString(n.text)
			case n.kind == rSeq:
				if !walk(n.subs) {
					return false
				}
			case n.kind == rGroup && n.quant == "" && (n.text == "(?:" || n.text == "(?P<") && n.subs[0].kind == rSeq:
				if !walk(n.subs[0].subs) {
					return false
				}
			default:
				return false
			}
		}
		return true
	}
	walk(follow)
	return strings.HasPrefix(sb.String(), lit)
}

// avoiding writes, in Python's dialect, an expression for the strings
// without '\n' that do not contain lit; with toEnd the string may end in
// any partial match of lit, without it not in lit less its last byte (so
// that lit right after it is its first occurrence). lit is simpleLit.
func avoiding(lit string, toEnd bool) string {
	c := lit[:1] // the space
	n := len(lit)
	cls := func(ex ...string) string { // [^ex c \n]
		s := "[^" + c
		for _, e := range ex {
			s += e
		}
		return s + "\\n]"
	}
	// from state 1 (after the space) back to state 1
	var cycle []string
	for k := 1; k <= n-2; k++ {
		cycle = append(cycle, lit[1:k]+c)
	}
	// from state 1 out to state 0
	var exit []string
	for k := 1; k <= n-1; k++ {
		if k == n-1 {
			exit = append(exit, lit[1:k]+cls())
		} else {
			exit = append(exit, lit[1:k]+cls(lit[k:k+1]))
		}
	}
	// the partial matches the string may end in
	var tail []string
	last := n - 2
	if toEnd {
		last = n - 1
	}
	for k := 1; k <= last; k++ {
		tail = append(tail, lit[1:k])
	}
	cyc := "(?:" + strings.Join(cycle, "|") + ")*"
	return "(?:" + cls() + "|" + c + cyc + "(?:" + strings.Join(exit, "|") + "))*" +
		"(?:" + c + cyc + "(?:" + strings.Join(tail, "|") + "))?"
}

// print writes n in Python's dialect, renaming repeated group names.
func (u *uncond) print(sb *strings.Builder, n *rnode) {
	switch n.kind {
	case rAtom:
		sb.WriteString(n.text)
	case rSeq:
		for _, s := range n.subs {
			u.print(sb, s)
		}
	case rAlt:
		for i, s := range n.subs {
			if i > 0 {
				sb.WriteByte('|')
			}
			u.print(sb, s)
		}
	case rGroup:
		sb.WriteString(n.text)
		if n.text == "(?P<" {
			if u.seen[n.name] > 0 {
				u.copies++ // one name twice in a part: refused
			}
			u.seen[n.name]++
			sb.WriteString(n.name + ">")
		}
		u.print(sb, n.subs[0])
		sb.WriteByte(')')
	case rCond:
		u.failed = true
	}
	sb.WriteString(n.quant)
}
