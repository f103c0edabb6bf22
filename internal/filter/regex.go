package filter

import (
	"bytes"
	"fmt"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
)

// Engine names reported by Explain.
const (
	EngineGo      = "go"      // Go's regexp: linear time
	EngineRegexp2 = "regexp2" // backtracking, bounded by a match timeout
)

// variant is one compiled form of a pattern.
type variant struct {
	// re is the exact matcher when bt is nil; otherwise a relaxed
	// expression matching a superset of bt, used as a cheap pre-check
	// (nil when Go cannot compile even that).
	re      *lazyRegexp
	bt      *regexp2.Regexp
	reasons []string
	// dfa tells, for ASCII subjects, whether re matches at all, much
	// faster than re; nil for the Unicode variant.
	dfa *dfa
	// split finds the groups of a ^X(?P<content>.+)$ prefregex on ASCII
	// subjects faster (content.go); nil for other regexes.
	split *contentSplit
	// patient is bt with retryFactor times the time-out, built on the
	// first time-out (see retryFactor).
	patient *regexp2.Regexp
	btExpr  string
	btOpt   regexp2.RegexOptions
	// btGroups[i] is regexp2's number for the pattern's group i
	btGroups []int
	// runes is scratch space for an ASCII subject as regexp2 reads it
	// (one rune per byte); each clone has its own
	runes []rune
	// parts, when set, replace bt for ASCII subjects (condpart.go)
	parts []condPart
	// partLoc is findParts' answer: scratch, each clone has its own
	partLoc []int
	// chain finds re's groups on ASCII subjects segment by segment
	// (chain.go); nil when re is not of its shape or bt is set
	chain *chain
}

// retryFactor: a backtracking match abandoned at MatchTimeout is tried
// once more with this many times the budget before it counts as a
// time-out (and as no match). The time-out is wall-clock time: on a busy
// machine a process starved of CPU for a moment overran 100ms on harmless
// lines and lost real matches. Starvation that lasts twenty times longer
// is far less likely, while a regex that truly runs away still stops,
// after 21 budgets instead of one; such lines are rare and counted.
const retryFactor = 20

// runBT runs the backtracking matcher on buf, once more with a larger
// budget after a time-out. An ASCII buf is handed over as runes in the
// variant's scratch space (the match refers to it until the next call).
func (v *variant) runBT(buf []byte, ascii bool) (*regexp2.Match, error) {
	var m *regexp2.Match
	var err error
	if ascii {
		v.runes = v.runes[:0]
		for _, c := range buf {
			v.runes = append(v.runes, rune(c))
		}
		m, err = v.bt.FindRunesMatch(v.runes)
	} else {
		m, err = v.bt.FindStringMatch(string(buf))
	}
	if err == nil {
		return m, nil
	}
	if v.patient == nil {
		re, cerr := regexp2.Compile(v.btExpr, v.btOpt)
		if cerr != nil {
			return nil, err
		}
		re.MatchTimeout = v.bt.MatchTimeout * retryFactor
		v.patient = re
	}
	if ascii {
		return v.patient.FindRunesMatch(v.runes)
	}
	return v.patient.FindStringMatch(string(buf))
}

// pattern is one fail2ban regex, compiled.
type pattern struct {
	source   string // as configured
	expanded string // after tag expansion: what Python would compile
	names    []string
	index    map[string]int
	// ascii serves subjects that are pure ASCII, uni all others (the two
	// differ only in how big the shorthand classes are); uni is built
	// lazily, see unicode().
	ascii, uni *variant
	uniErr     error
	asciiExpr  string
	multiline  bool
	timeout    time.Duration
	reqs       [][][]byte // each: at least one of these must occur
	reqMasks   []litMask  // reqs as ids in the filter's litSet
	first      *byteSet   // bytes an ASCII subject may start with (nil: any)
	alts       [][2]string
	skiplines  []int // group numbers of <SKIPLINES> captures, in order
	// uniqueNames: no group name is used twice (search's groups then
	// hold each name once; see mergeGroups)
	uniqueNames bool
	id          int // index among the filter's patterns (memo entries)
	// how often find's automaton pre-check ran and said no
	gate dfaGate
}

// dfaGate tells whether to ask an automaton "does it match?" before a
// search with groups. Where the literal checks already sort the lines
// well, nearly every subject that gets this far matches and the automaton
// only adds a pass: after 256 runs with fewer than one "no" in 16, it is
// asked for one search in 64 only, which keeps the figures current. The
// answer is the same either way; only the cost differs.
type dfaGate struct{ runs, misses, asked uint32 }

func (g *dfaGate) use() bool {
	g.asked++
	if g.runs >= 1<<16 {
		g.runs, g.misses = g.runs>>1, g.misses>>1
	}
	return g.runs < 256 || g.misses*16 >= g.runs || g.asked&63 == 0
}

// note counts one answer of the automaton.
func (g *dfaGate) note(matched bool) {
	g.runs++
	if !matched {
		g.misses++
	}
}

// clone returns a copy of p for another goroutine: compiled regexes are
// shared (both engines allow concurrent use), the lazily built parts
// (automaton cache, Unicode variant, patient retry matcher) are its own.
func (p *pattern) clone() *pattern {
	if p == nil {
		return nil
	}
	c := *p
	if p.ascii != nil {
		v := *p.ascii
		v.dfa, v.patient, v.runes, v.partLoc = p.ascii.dfa.clone(), nil, nil, nil
		v.split = p.ascii.split.clone()
		v.chain = p.ascii.chain.clone()
		v.parts = cloneParts(p.ascii.parts)
		c.ascii = &v
	}
	c.uni, c.uniErr = nil, nil
	c.gate = dfaGate{}
	return &c
}

// compilePattern expands tags in src and compiles it for ASCII subjects;
// the variant for other subjects is built on first use (most logs never
// need it, and its large Unicode classes are slow to compile).
func compilePattern(src, useDNS string, multiline bool, timeout time.Duration) (*pattern, error) {
	exp, err := expandTags(src, useDNS)
	if err != nil {
		return nil, err
	}
	if strings.TrimLeft(exp, " \t\n\r\v\f") == "" {
		return nil, fmt.Errorf("empty regex")
	}
	exp = globalToLocalFlags(exp)
	p := &pattern{source: src, expanded: exp, multiline: multiline, timeout: timeout}
	tr, v, simple, err := p.build(true)
	if err != nil {
		return nil, err
	}
	p.names, p.ascii, p.asciiExpr = tr.names, v, tr.expr
	if simple != nil {
		p.reqs = literalsOf(simple)
		p.first = firstBytesOf(simple)
	}
	p.index = make(map[string]int, len(p.names))
	p.uniqueNames = true
	for i, n := range p.names {
		if n != "" {
			if _, dup := p.index[n]; dup {
				p.uniqueNames = false
			}
			p.index[n] = i
		}
	}
	for i := 0; ; i++ {
		g, ok := p.index[fmt.Sprintf("skiplines%d", i)]
		if !ok {
			break
		}
		p.skiplines = append(p.skiplines, g)
	}
	p.alts = altPairs(p.names)
	if v.bt != nil {
		v.parts = p.buildParts()
	}
	return p, nil
}

// build translates and compiles one variant. simple is the Go
// expression's syntax tree, simplified, when Go compiles it (the one parse
// its automata and literal checks share); nil otherwise.
func (p *pattern) build(ascii bool) (tr translation, v *variant, simple *syntax.Regexp, err error) {
	tr, err = translate(p.expanded, transOpts{target: targetGo, asciiInput: ascii, multiline: p.multiline})
	if err != nil {
		return tr, nil, nil, fmt.Errorf("invalid regex: %w", err)
	}
	if !ascii && tr.expr == p.asciiExpr {
		return tr, p.ascii, nil, nil
	}
	v = &variant{reasons: tr.reasons}
	re, parsed, goErr := goRegexp(tr.expr)
	if goErr != nil {
		v.reasons = append(v.reasons, "Go regexp refused it: "+goErr.Error())
	} else {
		v.re = re
		simple = parsed.Simplify()
		if ascii {
			v.dfa = dfaOf(simple)
		}
		if ascii && len(v.reasons) == 0 {
			v.chain = chainOf(parsed)
		}
	}
	if len(v.reasons) > 0 {
		bt, err := translate(p.expanded, transOpts{target: targetBT, asciiInput: ascii, multiline: p.multiline})
		if err != nil {
			return tr, nil, nil, fmt.Errorf("invalid regex: %w", err)
		}
		opt := regexp2.RegexOptions(0)
		if p.multiline {
			opt |= regexp2.Multiline
		}
		v.bt, err = regexp2.Compile(bt.expr, opt)
		if err != nil {
			return tr, nil, nil, fmt.Errorf("invalid regex for the backtracking engine: %w", err)
		}
		v.bt.MatchTimeout = p.timeout
		v.btExpr, v.btOpt = bt.expr, opt
		v.btGroups = make([]int, len(tr.names))
		for i := range v.btGroups {
			v.btGroups[i] = v.bt.GroupNumberFromName(groupName(i))
		}
	}
	return tr, v, simple, nil
}

// unicode returns the variant for subjects that are not pure ASCII,
// building it on first use; nil if it cannot be built.
func (p *pattern) unicode() *variant {
	if p.uni == nil && p.uniErr == nil {
		_, p.uni, _, p.uniErr = p.build(false)
	}
	return p.uni
}

func (p *pattern) has(name string) bool { _, ok := p.index[name]; return ok }

// engine reports which engine serves ASCII subjects and why.
func (p *pattern) engine() (string, []string) {
	v := p.ascii
	if v.parts != nil {
		return EngineGo, append([]string{partsReason(len(v.parts))}, v.reasons...)
	}
	if u := p.unicode(); v.bt == nil && u != nil && u.bt != nil {
		return EngineGo, append([]string{"regexp2 for non-ASCII lines:"}, u.reasons...)
	}
	if v.bt == nil {
		return EngineGo, nil
	}
	return EngineRegexp2, v.reasons
}

// prechecked reports whether buf holds the literals p requires.
func (p *pattern) prechecked(buf []byte) bool {
	for _, req := range p.reqs {
		found := false
		for _, lit := range req {
			if bytes.Contains(buf, lit) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// register adds p's required literals to the filter's set; masks are
// taken once the set is complete (see setMasks).
//
// A requirement with a literal shorter than minScanLit is left out: such a
// literal (a space, "by") is in nearly every line, so it filters nothing
// while making the scan stop on most bytes. Leaving a requirement out only
// lets more lines reach the regex itself, so results do not change.
func (p *pattern) register(ls *litSet) [][]int {
	var ids [][]int
	for _, req := range p.reqs {
		if slices.ContainsFunc(req, func(l []byte) bool { return len(l) < minScanLit }) {
			continue
		}
		var r []int
		for _, lit := range req {
			r = append(r, ls.add(lit))
		}
		ids = append(ids, r)
	}
	return ids
}

// minScanLit is the shortest literal worth a place in a filter's litSet.
const minScanLit = 3

// passes reports whether the literals found allow p to match.
func (p *pattern) passes(found litMask) bool {
	for _, m := range p.reqMasks {
		if !m.intersects(found) {
			return false
		}
	}
	return true
}

// variantFor is the variant of p to run on buf, or nil when the required
// literals (found, or looked up in buf when found is nil) or the first
// byte already rule a match out. err is set when the Unicode variant
// could not be built.
func (p *pattern) variantFor(buf []byte, ascii bool, found litMask) (*variant, error) {
	if found != nil {
		if !p.passes(found) {
			return nil, nil
		}
	} else if !p.prechecked(buf) {
		return nil, nil
	}
	if !ascii {
		if v := p.unicode(); v != nil {
			return v, nil
		}
		return nil, p.uniErr
	}
	if p.first != nil && (len(buf) == 0 || !p.first[buf[0]]) {
		return nil, nil
	}
	return p.ascii, nil
}

// find searches buf and returns byte offsets of the groups (2 per group,
// -1 when a group did not take part) or nil. err is a regexp2 time-out.
// found, when not nil, lists the literals present in buf (or in a buffer
// buf is a part of); otherwise they are looked up here.
func (p *pattern) find(buf []byte, ascii bool, found litMask) ([]int, error) {
	v, err := p.variantFor(buf, ascii, found)
	if v == nil {
		return nil, err
	}
	known := false // the automaton found that v.re matches
	// With a content split the automaton would only repeat, over the whole
	// line, what the split's search of the prefix answers exactly.
	if ascii && v.dfa != nil && (v.split == nil || v.bt != nil) && p.gate.use() {
		if m, ok := v.dfa.match(buf); ok {
			p.gate.note(m)
			if !m {
				return nil, nil
			}
			known = true
		}
	}
	if v.bt == nil {
		if v.split != nil && ascii {
			if loc, ok := v.split.find(buf); ok {
				return loc, nil
			}
		}
		if ascii && v.chain != nil {
			if loc, ok := v.chain.find(buf); ok {
				return loc, nil
			}
		}
		return v.re.FindSubmatchIndex(buf), nil
	}
	if ascii && v.parts != nil {
		return p.findParts(v, buf), nil
	}
	if !known && v.re != nil && !v.re.Match(buf) {
		return nil, nil
	}
	m, err := v.runBT(buf, ascii)
	if err != nil || m == nil {
		return nil, err
	}
	s := buf
	loc := make([]int, 2*len(p.names))
	for i := range loc {
		loc[i] = -1
	}
	var offs []int // rune index → byte offset, built on demand
	byteAt := func(ri int) int {
		if ascii {
			return min(ri, len(s)) // one byte per rune
		}
		if offs == nil {
			offs = make([]int, 0, len(s)+1)
			for bi := range string(s) {
				offs = append(offs, bi)
			}
			offs = append(offs, len(s))
		}
		if ri >= len(offs) {
			return len(s)
		}
		return offs[ri]
	}
	loc[0], loc[1] = byteAt(m.Index), byteAt(m.Index+m.Length)
	for i := 1; i < len(p.names); i++ {
		if i >= len(v.btGroups) || v.btGroups[i] < 0 {
			continue
		}
		g := m.GroupByNumber(v.btGroups[i])
		if g == nil || len(g.Captures) == 0 {
			continue
		}
		loc[2*i], loc[2*i+1] = byteAt(g.Index), byteAt(g.Index+g.Length)
	}
	return loc, nil
}

// matches reports whether p matches somewhere in buf, without working out
// where: the cheap question. err is a regexp2 time-out.
func (p *pattern) matches(buf []byte, ascii bool, found litMask) (bool, error) {
	v, err := p.variantFor(buf, ascii, found)
	if v == nil {
		return false, err
	}
	if ascii && v.split != nil && v.bt == nil {
		if m, ok := v.split.matches(buf); ok {
			return m, nil
		}
	}
	if ascii && v.dfa != nil {
		if m, ok := v.dfa.match(buf); ok && (!m || v.bt == nil) {
			return m, nil
		}
	}
	if v.bt == nil {
		return v.re.Match(buf), nil
	}
	if ascii && v.parts != nil {
		return v.matchParts(buf), nil
	}
	if v.re != nil && !v.re.Match(buf) {
		return false, nil
	}
	m, err := v.runBT(buf, ascii)
	return m != nil, err
}

// literalsOf derives from the simplified tree of a Go expression the
// literal strings a match must contain: at most two requirements, each a
// set of strings of which one must occur. Case-folded literals and
// newlines are left out.
func literalsOf(simple *syntax.Regexp) [][][]byte {
	reqs := allReqs(simple)
	sort.SliceStable(reqs, func(i, j int) bool { return reqScore(reqs[i]) > reqScore(reqs[j]) })
	var out [][][]byte
	for _, r := range reqs {
		if len(out) == 2 || reqScore(r) < 2 {
			break
		}
		var set [][]byte
		for _, s := range r {
			set = append(set, []byte(s))
		}
		out = append(out, set)
	}
	return out
}

// reqScore rates a requirement: its shortest member's length, less a
// penalty per extra member.
func reqScore(r []string) int {
	if len(r) == 0 {
		return 0
	}
	min := len(r[0])
	for _, s := range r[1:] {
		if len(s) < min {
			min = len(s)
		}
	}
	return min*4 - (len(r) - 1)
}

// cleanLit keeps the longest newline-free piece of a literal (the
// pre-check runs on a buffer that may differ from the subject around
// newlines).
func cleanLit(s string) string {
	best := ""
	for _, piece := range strings.Split(s, "\n") {
		if len(piece) > len(best) {
			best = piece
		}
	}
	return best
}

func allReqs(re *syntax.Regexp) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil
		}
		if s := cleanLit(string(re.Rune)); s != "" {
			return [][]string{{s}}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return allReqs(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return allReqs(re.Sub[0])
		}
	case syntax.OpConcat:
		var out [][]string
		var run []rune
		flush := func() {
			if s := cleanLit(string(run)); s != "" {
				out = append(out, []string{s})
			}
			run = run[:0]
		}
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral && sub.Flags&syntax.FoldCase == 0 {
				run = append(run, sub.Rune...)
				continue
			}
			flush()
			out = append(out, allReqs(sub)...)
		}
		flush()
		return out
	case syntax.OpAlternate:
		var alts []string
		for _, sub := range re.Sub {
			reqs := allReqs(sub)
			if len(reqs) == 0 {
				return nil
			}
			sort.SliceStable(reqs, func(i, j int) bool { return reqScore(reqs[i]) > reqScore(reqs[j]) })
			alts = append(alts, reqs[0]...)
		}
		if len(alts) > 8 {
			return nil
		}
		return [][]string{alts}
	}
	return nil
}
