package filter

import (
	"regexp"
	"regexp/syntax"
	"sync"
)

// lazyProg compiles an expression's syntax tree into a program on first
// use, once for all the automata that read it (a dfa and its clones, a
// firstEnd). Most of a filter's regexes never see a line that gets past
// the literal checks (sshd has some thirty alternations, a log shows a
// handful), so most automata are never started, and building all of them
// up front was most of a short run's time. Safe for concurrent use.
type lazyProg struct {
	once sync.Once
	re   *syntax.Regexp // cleared once compiled
	prog *syntax.Prog   // nil when it does not compile
}

func newLazyProg(re *syntax.Regexp) *lazyProg { return &lazyProg{re: re} }

// get returns the program of re.Simplify(); nil if it does not compile.
func (l *lazyProg) get() *syntax.Prog {
	l.once.Do(func() {
		if prog, err := syntax.Compile(l.re.Simplify()); err == nil {
			l.prog = prog
		}
		l.re = nil
	})
	return l.prog
}

// lazyRegexp is a Go regexp compiled on first use, shared by the clones
// of a pattern. Where the automata answer (chain, dfa), regexp is never
// asked, so most patterns never need it. Its expression is known to parse
// with the flags regexp.Compile uses, and a failed parse is the only way
// regexp.Compile fails. Safe for concurrent use.
type lazyRegexp struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

// goRegexp returns the lazy regexp for expr; err is regexp.Compile's
// error if expr does not parse, and parsed its tree (unsimplified) if it
// does.
func goRegexp(expr string) (lr *lazyRegexp, parsed *syntax.Regexp, err error) {
	parsed, err = syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, nil, err
	}
	return &lazyRegexp{expr: expr}, parsed, nil
}

func (l *lazyRegexp) get() *regexp.Regexp {
	l.once.Do(func() {
		re, err := regexp.Compile(l.expr)
		if err != nil {
			panic("filter: an expression that parsed does not compile: " + err.Error())
		}
		l.re = re
	})
	return l.re
}

func (l *lazyRegexp) String() string                   { return l.expr }
func (l *lazyRegexp) Match(b []byte) bool              { return l.get().Match(b) }
func (l *lazyRegexp) FindSubmatchIndex(b []byte) []int { return l.get().FindSubmatchIndex(b) }
