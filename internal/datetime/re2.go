package datetime

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Fallback for datepatterns using regex features the own engine lacks
// (lazy flags groups, \p classes, ...): dlclark/regexp2 is a backtracking
// engine with Python-like semantics. It is slower and works on runes.

// toRE2Syntax rewrites the Python-only spellings regexp2 does not know.
func toRE2Syntax(re string) string {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		switch {
		case re[i] == '\\' && i+1 < len(re):
			if re[i+1] == 'Z' {
				b.WriteString(`\z`)
			} else {
				b.WriteString(re[i : i+2])
			}
			i++
		case strings.HasPrefix(re[i:], "(?P="):
			end := strings.IndexByte(re[i:], ')')
			if end < 0 {
				b.WriteString(re[i:])
				return b.String()
			}
			b.WriteString(`\k<` + re[i+4:i+end] + `>`)
			i += end
		default:
			b.WriteByte(re[i])
		}
	}
	return b.String()
}

func (t *template) compileRE2() error {
	re, err := regexp2.Compile(toRE2Syntax(t.regex), regexp2.RE2)
	if err != nil {
		return fmt.Errorf("compile %q: %w", t.regex, err)
	}
	// A user pattern that backtracks badly must not stall the daemon.
	re.MatchTimeout = 100 * time.Millisecond
	if len(re.GetGroupNumbers()) < 2 {
		return errors.New("the date regex has no capturing group")
	}
	t.re2 = re
	t.names = map[string]int{}
	for _, name := range re.GetGroupNames() {
		t.names[name] = re.GroupNumberFromName(name)
	}
	for i := range t.slots {
		t.slots[i] = -1
		if n, ok := t.names[fieldNames[i]]; ok {
			t.slots[i] = n
		}
	}
	t.computeOrder()
	return nil
}

// runeToByte converts a rune index of s to a byte offset.
func runeToByte(s string, ri int) int {
	if ri <= 0 {
		return 0
	}
	n := 0
	for i := range s {
		if n == ri {
			return i
		}
		n++
	}
	return len(s)
}

func byteToRune(s string, bi int) int {
	if bi > len(s) {
		bi = len(s)
	}
	return utf8.RuneCountInString(s[:bi])
}

func (t *template) matchRE2(line string, from, end int) (ms, me, gs, ge int, ok bool) {
	if end > len(line) {
		end = len(line)
	}
	s := line[:end]
	m, err := t.re2.FindStringMatchStartingAt(s, byteToRune(s, from))
	t.re2m = m
	if err != nil || m == nil {
		t.re2m = nil
		return 0, 0, 0, 0, false
	}
	ms = runeToByte(s, m.Index)
	me = runeToByte(s, m.Index+m.Length)
	gs, ge = -1, -1
	if g := m.GroupByNumber(1); g != nil && len(g.Captures) > 0 {
		gs = runeToByte(s, g.Index)
		ge = runeToByte(s, g.Index+g.Length)
	}
	return ms, me, gs, ge, true
}

func (t *template) groupRE2(line string, slot int) (string, bool) {
	if t.re2m == nil {
		return "", false
	}
	g := t.re2m.GroupByNumber(slot)
	if g == nil || len(g.Captures) == 0 {
		return "", false
	}
	return g.String(), true
}
