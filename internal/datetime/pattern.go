package datetime

import (
	"fmt"
	"strconv"
	"strings"
)

// directive describes one strptime directive: the regex it expands to and
// the label fail2ban-regex shows in template names.
type directive struct {
	key   string
	regex string
	label string
}

// directives returns the supported strptime directives. Longer keys come
// first so that "%ExY" is not read as "%E" followed by "xY". The regexes
// accept exactly the text (and in the same preference order) that
// fail2ban's strptime module accepts; ymax bounds %ExY.
func directives(ymax int) []directive {
	monthAbbr := "(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
	dayAbbr := "(?P<a>mon|tue|wed|thu|fri|sat|sun)"
	// %c, %x and %X, as Python's C locale spells them.
	dayC := `(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])`
	hmsC := `(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)`
	tzAbbr := `[A-Z](?:[A-Z]{2,4})?`
	return []directive{
		{"ExZ", "(?P<Z>" + tzAbbr + ")", "ExZone name"},
		{"Exz", "(?P<z>(?:" + tzAbbr + `)?[+-][01]\d(?::?\d{2})?|` + tzAbbr + ")", "ExZone offset"},
		{"Exd", `(?P<d>[1-2]\d|0[1-9]|3[0-1])`, "ExDay"},
		{"Exm", `(?P<m>0[1-9]|1[0-2])`, "ExMonth"},
		{"ExH", `(?P<H>[0-1]\d|2[0-3])`, "Ex24hour"},
		{"Exk", ` ?(?P<H>[0-1]?\d|2[0-3])`, "Ex%k"},
		{"Exl", ` ?(?P<I>1[0-2]|\d)`, "Ex%l"},
		{"ExM", `(?P<M>[0-5]\d)`, "ExMinute"},
		{"ExS", `(?P<S>[0-5]\d|6[0-1])`, "ExSecond"},
		{"ExY", "(?P<Y>" + yearRegex(ymax) + ")", "ExYear"},
		{"Exy", `(?P<y>\d{2})`, "ExYear2"},
		{"%", "%", "%"},
		{"A", "(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)", "DAYNAME"},
		{"B", "(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)", "MONTH"},
		{"G", `(?P<G>\d\d\d\d)`, "%G"},
		{"H", `(?P<H>[0-1]?\d|2[0-3])`, "24hour"},
		{"I", `(?P<I>1[0-2]|0[1-9]|[1-9])`, "12hour"},
		{"M", `(?P<M>[0-5]?\d)`, "Minute"},
		{"S", `(?P<S>[0-5]?\d|6[0-1])`, "Second"},
		{"U", `(?P<U>5[0-3]|[0-4]\d|\d)`, "Yearweek"},
		{"V", `(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)`, "%V"},
		{"W", `(?P<W>5[0-3]|[0-4]\d|\d)`, "Yearweek"},
		{"X", hmsC, "%X"},
		{"Y", `(?P<Y>\d{4})`, "Year"},
		{"Z", `(?P<Z>Z|[A-Z]{3,5})`, "Zone name"},
		{"a", dayAbbr, "DAY"},
		{"b", monthAbbr, "MON"},
		{"c", dayAbbr + `\s+` + monthAbbr + `\s+` + dayC + `\s+` + hmsC + `\s+(?P<Y>\d\d\d\d)`, "%c"},
		{"d", `(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])`, "Day"},
		{"f", `(?P<f>[0-9]{1,6})`, "Microseconds"},
		{"j", `(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])`, "Yearday"},
		{"k", ` ?(?P<H>[0-2]?\d)`, "%k"},
		{"l", ` ?(?P<I>1?\d)`, "%l"},
		{"m", `(?P<m>0?[1-9]|1[0-2])`, "Month"},
		{"p", `(?P<p>am|pm)`, "AMPM"},
		{"u", `(?P<u>[1-7])`, "%u"},
		{"w", `(?P<w>[0-6])`, "Weekday"},
		{"x", `(?P<m>1[0-2]|0[1-9]|[1-9])/` + dayC + `/(?P<y>\d\d)`, "%x"},
		{"y", `(?P<y>\d\d)`, "Year2"},
		{"z", `(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)`, "Zone offset"},
	}
}

// yearRegex matches four-digit years from 2000 up to the decade of ymax,
// spelled the way fail2ban spells it (its --VD output shows the regex):
// the decades' first three digits, grouped by common prefixes.
func yearRegex(ymax int) string {
	hi := ymax / 10
	if hi < 200 {
		hi = 200
	}
	if hi > 999 {
		hi = 999
	}
	var decades []string
	for c := 200; c <= hi; c++ {
		decades = append(decades, strconv.Itoa(c))
	}
	return groupPrefixes(decades) + `\d`
}

// groupPrefixes writes a sorted set of equal-length digit strings as a
// regex, factoring out a prefix all share (all but the last character,
// else the first character).
func groupPrefixes(set []string) string {
	if len(set) == 1 {
		return set[0]
	}
	common := func(n int) bool {
		for _, s := range set[1:] {
			if s[:n] != set[0][:n] {
				return false
			}
		}
		return true
	}
	var c string
	if n := len(set[0]) - 1; n > 0 && common(n) {
		c = set[0][:n]
	} else if len(set[0]) > 1 && common(1) {
		c = set[0][:1]
	}
	if c != "" {
		rest := make([]string, len(set))
		for i, s := range set {
			rest[i] = s[len(c):]
		}
		return c + groupPrefixes(rest)
	}
	if len(set[0]) > 1 {
		return "(?:" + strings.Join(set, "|") + ")"
	}
	return "[" + strings.Join(set, "") + "]"
}

// expandPattern replaces the strptime directives of pattern by their
// regexes and labels. It reports whether a case-insensitive directive
// (%a %A %b %B %p %c) occurs.
func expandPattern(pattern string, dirs []directive) (regex, name string, alpha bool, err error) {
	var re, nm strings.Builder
	for i := 0; i < len(pattern); {
		c := pattern[i]
		if c != '%' {
			re.WriteByte(c)
			nm.WriteByte(c)
			i++
			continue
		}
		found := false
		for _, d := range dirs {
			if strings.HasPrefix(pattern[i+1:], d.key) {
				re.WriteString(d.regex)
				nm.WriteString(d.label)
				switch d.key {
				case "a", "A", "b", "B", "p", "c":
					alpha = true
				}
				i += 1 + len(d.key)
				found = true
				break
			}
		}
		if !found {
			return "", "", false, fmt.Errorf("%w: %q: unsupported directive or unescaped %% at offset %d", ErrBadPattern, pattern, i)
		}
	}
	return re.String(), nm.String(), alpha, nil
}

// The markers fail2ban understands at the front of a pattern.
const (
	markUnbound   = "{UNB}"
	markLineBegin = "{^LN-BEG}"
)

// newPatternTemplate compiles a datepattern into a template, applying
// fail2ban's boundary rules.
func newPatternTemplate(pattern string, dirs []directive) (*template, error) {
	t := &template{pattern: pattern, hasPat: true, weight: 1, kind: kindPattern}
	wordBegin, wordEnd, start := true, true, false
	p := pattern
	if strings.HasPrefix(p, markUnbound) {
		p = p[len(markUnbound):]
		wordBegin, wordEnd = false, false
	}
	if wordBegin && strings.HasPrefix(p, markLineBegin) {
		p = p[len(markLineBegin):]
		start = true
	}
	regex, name, alpha, err := expandPattern(p, dirs)
	if err != nil {
		return nil, err
	}
	if alpha {
		regex = "(?iu)" + regex
	}
	t.name = name
	t.setRegex(regex, wordBegin, wordEnd, start)
	if err := t.compileRegex(); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadPattern, pattern, err)
	}
	return t, nil
}

// setRegex decorates regex with group 1 and the word/line boundaries and
// derives the flags, the way fail2ban's DateTemplate.setRegex does.
func (t *template) setRegex(regex string, wordBegin, wordEnd, start bool) {
	regex = strings.TrimSpace(regex)
	flags := ""
	if i, j := findGlobalFlags(regex); i >= 0 {
		flags = regex[i:j]
		regex = regex[:i] + regex[j:]
	}
	boundBegin := wordBegin && !startsUnbounded(regex)
	boundEnd := wordEnd && !endsUnbounded(regex)
	if !hasCapturingGroup(regex) {
		regex = wrapGroup(regex)
	}
	t.flags = 0
	if boundBegin {
		if start {
			t.flags |= flagLineBegin
			regex = `^(?:\W{0,2})?` + regex
			if !strings.HasPrefix(t.name, markLineBegin) {
				t.name = markLineBegin + t.name
			}
		} else {
			t.flags |= flagWordBegin
			regex = `(?=^|\b|\W)` + regex
		}
	}
	if boundEnd {
		t.flags |= flagWordEnd
		regex += `(?=\b|\W|$)`
	}
	if t.flags&flagLineBegin == 0 && startsAtLineBegin(regex) {
		t.flags |= flagLineBegin
	}
	if t.flags&flagLineEnd == 0 && endsAtLineEnd(regex) {
		t.flags |= flagLineEnd
	}
	regex = stripStars(regex)
	t.regex = flags + regex
}

// findGlobalFlags locates the first inline flag group like "(?iu)".
func findGlobalFlags(s string) (int, int) {
	for i := 0; i+3 < len(s); i++ {
		if s[i] != '(' || s[i+1] != '?' {
			continue
		}
		j := i + 2
		for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
			j++
		}
		if j > i+2 && j < len(s) && s[j] == ')' {
			return i, j + 1
		}
	}
	return -1, -1
}

// skipOpen skips '(' characters and one optional "(?flags)" group.
func skipFlagGroup(s string) string {
	if strings.HasPrefix(s, "(?") {
		j := 2
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		if j > 2 && j < len(s) && s[j] == ')' {
			return s[j+1:]
		}
	}
	return s
}

func isWordByte(b byte) bool {
	return b == '_' || isDigitByte(b) || (b|0x20 >= 'a' && b|0x20 <= 'z')
}

// afterLead tries every way of skipping leading "(" characters and one
// optional flag group, as a backtracking regex would, and reports whether
// rest accepts what follows. It returns the length skipped.
func afterLead(s string, rest func(string) bool) (int, bool) {
	n := len(s) - len(strings.TrimLeft(s, "("))
	for k := n; k >= 0; k-- {
		r := s[k:]
		if f := skipFlagGroup(r); len(f) != len(r) && rest(f) {
			return len(s) - len(f), true
		}
		if rest(r) {
			return k, true
		}
	}
	return 0, false
}

// startsUnbounded: the regex opens with ^, (^, (?:^ or ** (after any
// opening parentheses and a flag group): no word boundary is added.
func startsUnbounded(s string) bool {
	_, ok := afterLead(s, func(r string) bool {
		return strings.HasPrefix(r, "^") || strings.HasPrefix(r, "(^") ||
			strings.HasPrefix(r, "(?:^") || strings.HasPrefix(strings.TrimLeft(r, "("), "**")
	})
	return ok
}

// endsUnbounded: the regex closes with an unescaped $ (optionally followed
// by one ")"), \b, \s, or "**" followed by any ")".
func endsUnbounded(s string) bool {
	notEscaped := func(i int) bool { return i == 0 || s[i-1] != '\\' }
	if strings.HasSuffix(s, "$") && notEscaped(len(s)-1) {
		return true
	}
	if strings.HasSuffix(s, "$)") && notEscaped(len(s)-2) {
		return true
	}
	if (strings.HasSuffix(s, `\b`) || strings.HasSuffix(s, `\s`)) && notEscaped(len(s)-2) {
		return true
	}
	t := strings.TrimRight(s, ")")
	return strings.HasSuffix(t, "**") && notEscaped(len(t)-2)
}

// hasCapturingGroup reports an unescaped "(" that opens a capturing group
// and is not itself preceded by "(?".
func hasCapturingGroup(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '(' {
			continue
		}
		if i > 0 && s[i-1] == '\\' {
			continue
		}
		if i >= 2 && s[i-2] == '(' && s[i-1] == '?' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '?' {
			continue
		}
		return true
	}
	return false
}

// wrapGroup puts the body of regex in group 1, keeping a leading flag
// group and ^ and a trailing $ outside.
func wrapGroup(s string) string {
	if strings.ContainsAny(s, "\n") {
		return s
	}
	head := ""
	rest := s
	take := func() {
		if r := skipFlagGroup(rest); len(r) != len(rest) {
			head += rest[:len(rest)-len(r)]
			rest = r
		}
	}
	take()
	if strings.HasPrefix(rest, "^") {
		head += "^"
		rest = rest[1:]
	}
	take()
	tail := ""
	if strings.HasSuffix(rest, "$") {
		rest, tail = rest[:len(rest)-1], "$"
	}
	return head + "(" + rest + ")" + tail
}

// startsAtLineBegin: ^ or (^ / (?:^ (not followed by |) after an optional
// flag group.
func startsAtLineBegin(s string) bool {
	s = skipFlagGroup(s)
	if strings.HasPrefix(s, "^") {
		return true
	}
	for _, p := range []string{"(^", "(?:^"} {
		if strings.HasPrefix(s, p) && !strings.HasPrefix(s[len(p):], "|") {
			return true
		}
	}
	return false
}

// endsAtLineEnd: a final "$" or "$)" not preceded by a backslash or "|".
func endsAtLineEnd(s string) bool {
	i := -1
	switch {
	case strings.HasSuffix(s, "$)"):
		i = len(s) - 2
	case strings.HasSuffix(s, "$"):
		i = len(s) - 1
	}
	if i < 0 {
		return false
	}
	return i == 0 || (s[i-1] != '\\' && s[i-1] != '|')
}

// stripStars removes the "**" markers that switch word boundaries off,
// at the front (after parentheses and flags) and at the end.
func stripStars(s string) string {
	if k, ok := afterLead(s, func(r string) bool {
		return strings.HasPrefix(strings.TrimLeft(r, "("), "**")
	}); ok {
		i := k + len(s[k:]) - len(strings.TrimLeft(s[k:], "("))
		s = s[:i] + s[i+2:]
	}
	t := strings.TrimRight(s, ")")
	if strings.HasSuffix(t, "**") && (len(t) == 2 || t[len(t)-3] != '\\') {
		s = t[:len(t)-2] + s[len(t):]
	}
	return s
}

// Epoch number forms.
const (
	epochShort = `\d{10,11}\b(?:\.\d{3,6})?`
	epochLong  = `\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?`
)

// newEpochTemplate builds the EPOCH / LEPOCH template; pattern, when not
// empty, is a datepattern containing {EPOCH} or {LEPOCH}.
func newEpochTemplate(lineBegin bool, pattern string, long bool) (*template, error) {
	t := &template{kind: kindEpoch, weight: 1, grpIdx: 1, longFrm: long, name: "Epoch", needs: needDigits10}
	num := epochShort
	if long {
		num = epochLong
		t.name = "LongEpoch"
	}
	switch {
	case pattern != "":
		t.name, t.pattern, t.hasPat = pattern, pattern, true
		t.grpIdx = 2
		t.setRegex("("+replaceEpochMarker(pattern, "("+num+")")+")", true, true, false)
	case !lineBegin:
		t.setRegex(`((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))`+num+
			`)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))`, false, true, false)
	default:
		t.setRegex(`((?P<square>(?<=^\[))?`+num+`)(?(square)(?=\]))`, true, true, true)
	}
	if err := t.compileRegex(); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadPattern, pattern, err)
	}
	return t, nil
}

// findEpochMarker locates an unescaped {EPOCH} or {LEPOCH} (any case).
func findEpochMarker(s string) (int, int) {
	up := strings.ToUpper(s)
	for i := 0; i < len(up); i++ {
		if up[i] != '{' || (i > 0 && up[i-1] == '\\') {
			continue
		}
		for _, m := range []string{"{EPOCH}", "{LEPOCH}"} {
			if strings.HasPrefix(up[i:], m) {
				return i, i + len(m)
			}
		}
	}
	return -1, -1
}

func replaceEpochMarker(s, with string) string {
	var b strings.Builder
	for {
		i, j := findEpochMarker(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(with)
		s = s[j:]
	}
}

// newTAI64NTemplate builds the TAI64N template.
func newTAI64NTemplate(lineBegin bool) (*template, error) {
	t := &template{kind: kindTAI64N, weight: 1, name: "TAI64N", needs: needAt}
	// Only the line-begin form gets a begin boundary.
	t.setRegex(`@[0-9a-f]{24}`, lineBegin, true, lineBegin)
	if err := t.compileRegex(); err != nil {
		return nil, err
	}
	return t, nil
}

// unboundPattern strips the boundary markers of a pattern so it can be
// embedded in a {DATE} datepattern.
func unboundPattern(p string) string {
	p = strings.TrimPrefix(p, markUnbound)
	p = strings.TrimPrefix(p, markLineBegin)
	for _, pre := range []string{`(?:^|\b|\W)`, `(^|\b|\W)`} {
		p = strings.TrimPrefix(p, pre)
	}
	return strings.TrimSuffix(p, `(?=\b|\W|$)`)
}
