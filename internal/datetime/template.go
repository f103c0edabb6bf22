package datetime

import (
	"errors"
	"fmt"
	"sort"

	"github.com/dlclark/regexp2"
)

// Template flags, as fail2ban computes them from the final regex.
const (
	flagLineBegin = 8
	flagLineEnd   = 4
	flagWordBegin = 2
	flagWordEnd   = 1
)

type templateKind uint8

const (
	kindPattern templateKind = iota
	kindEpoch
	kindTAI64N
)

// ErrBadPattern is returned for a datepattern that cannot be compiled.
var ErrBadPattern = errors.New("datetime: bad date pattern")

// template is one compiled date template.
type template struct {
	name    string
	pattern string // source pattern; "" for built-in EPOCH/TAI64N forms
	hasPat  bool
	regex   string // final regex in Python's dialect
	flags   int
	weight  float64
	kind    templateKind
	grpIdx  int // epoch: group holding the number
	longFrm bool

	m     *matcher        // own engine, nil when falling back
	re2   *regexp2.Regexp // fallback engine
	re2m  *regexp2.Match  // last fallback match
	slots [numFields]int  // capture slot per strptime field, -1 absent
	names map[string]int  // capture slots by group name (own engine)
	needs feature         // line features a match needs (prefilter)
	order []int           // fields present, in group order
	hits  int             // successful searches (fail2ban's template.hits)
}

// computeOrder lists the fields present in t by capture slot, the order
// in which fail2ban's converter sees them.
func (t *template) computeOrder() {
	t.order = t.order[:0]
	for f := range t.slots {
		if t.slots[f] >= 0 {
			t.order = append(t.order, f)
		}
	}
	sort.Slice(t.order, func(i, j int) bool { return t.slots[t.order[i]] < t.slots[t.order[j]] })
}

// matchSpan searches line[:end] from from. It returns the whole match
// span (what fail2ban calls distance/endpos) and the span of group 1.
func (t *template) matchSpan(line string, from, end int) (ms, me, gs, ge int, ok bool) {
	if t.m != nil {
		if t.m.prog.anchored && t.m.fast != fastNone && from == 0 && end >= len(line) && t.m.fastAt0(line) {
			c := t.m.caps
			return c[0], c[1], c[2], c[3], true
		}
	}
	return t.matchEngine(line, from, end)
}

// matchEngine is match without the fast matcher.
func (t *template) matchEngine(line string, from, end int) (ms, me, gs, ge int, ok bool) {
	if t.m != nil {
		if !t.m.search(line, from, end) {
			return 0, 0, 0, 0, false
		}
		c := t.m.caps
		return c[0], c[1], c[2], c[3], true
	}
	return t.matchRE2(line, from, end)
}

// group returns the text of capture slot i of the last match.
func (t *template) group(line string, slot int) (string, bool) {
	if slot < 0 {
		return "", false
	}
	if t.m != nil {
		a, b := t.m.caps[2*slot], t.m.caps[2*slot+1]
		if a < 0 || b < 0 {
			return "", false
		}
		return line[a:b], true
	}
	return t.groupRE2(line, slot)
}

// compileRegex builds the engine(s) for t.regex.
func (t *template) compileRegex() error {
	prog, err := parseRegex(t.regex)
	if err == nil && prog.ncap < 2 {
		// e.g. "?:" wrapped into "(?:)": fail2ban needs a group 1 too
		return errors.New("the date regex has no capturing group")
	}
	if err == nil {
		t.m = newMatcher(prog)
		t.names = prog.names
		for i := range t.slots {
			t.slots[i] = -1
			if s, ok := prog.names[fieldNames[i]]; ok {
				t.slots[i] = s
			}
		}
		t.computeOrder()
		return nil
	}
	if !errors.Is(err, errUnsupported) {
		return err
	}
	return t.compileRE2()
}

func isDigitByte(b byte) bool { return b >= '0' && b <= '9' }

// fieldNames are the strptime group names the converter reads.
var fieldNames = [numFields]string{
	fY: "Y", fy: "y", fm: "m", fB: "B", fb: "b", fd: "d", fH: "H", fI: "I",
	fM: "M", fS: "S", fA: "A", fa: "a", fw: "w", fj: "j", fU: "U", fW: "W",
	fz: "z", fZ: "Z", fp: "p",
}

const (
	fY = iota
	fy
	fm
	fB
	fb
	fd
	fH
	fI
	fM
	fS
	fA
	fa
	fw
	fj
	fU
	fW
	fz
	fZ
	fp
	numFields
)

func (t *template) String() string { return fmt.Sprintf("%s [%s]", t.name, t.regex) }
