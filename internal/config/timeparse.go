package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Seconds per unit in fail2ban time expressions. A month is a twelfth of
// an average (leap-aware) year.
const (
	secDay   = 24 * 60 * 60
	secWeek  = 7 * secDay
	secYear  = (365*3 + 366) * secDay / 4.0
	secMonth = secYear / 12
)

// timeUnits are tried in this order, and within one entry the spellings
// in the order given; the first that ends on a word boundary wins.
var timeUnits = []struct {
	names []string
	mult  string
}{
	{[]string{"days", "day", "da", "dd", "d"}, "*86400"},
	{[]string{"weeks", "week", "wee", "we", "ww", "w"}, "*604800"},
	{[]string{"months", "month", "mon", "mo"}, "*" + strconv.FormatFloat(secMonth, 'f', 1, 64)},
	{[]string{"years", "year", "yea", "ye", "yy", "y"}, "*" + strconv.FormatFloat(secYear, 'f', 1, 64)},
	{[]string{"seconds", "second", "sec", "se", "ss", "s"}, "*1"},
	{[]string{"minutes", "minute", "min", "mi", "mm", "m"}, "*60"},
	{[]string{"hours", "hour", "hou", "ho", "hh", "h"}, "*3600"},
}

// ParseTime parses a fail2ban time value ("600", "10m", "1h30m", "1d12h",
// "1mo", "-1", "1 hour 30 min", "1year-6mo"): numbers with unit words,
// groups separated by blanks are added, and + - * / ( ) work as in
// arithmetic. A negative result means for ever.
func ParseTime(s string) (time.Duration, error) {
	expr := timeExpr(s)
	secs, err := evalArith(expr)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %w", ErrBadTime, s, err)
	}
	if math.IsNaN(secs) || math.Abs(secs) > float64(math.MaxInt64)/float64(time.Second) {
		return 0, fmt.Errorf("%w %q: out of range", ErrBadTime, s)
	}
	return time.Duration(math.Round(secs * float64(time.Second))), nil
}

func isASCIILetter(r byte) bool { return r|0x20 >= 'a' && r|0x20 <= 'z' }
func isDigit(r byte) bool       { return r >= '0' && r <= '9' }

// timeExpr rewrites a time value into plain arithmetic the way fail2ban
// does before evaluating it: "1d12h" becomes "1*86400 12*3600", and digits
// separated by blanks get a '+' between them.
func timeExpr(s string) string {
	// A digit right after a letter starts a new group.
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i > 0 && isDigit(s[i]) && isASCIILetter(s[i-1]) {
			b.WriteByte(' ')
		}
		b.WriteByte(s[i])
	}
	s = b.String()
	for _, u := range timeUnits {
		s = replaceUnit(s, u.names, u.mult)
	}
	// "1 2" -> "1+2", left to right without overlap.
	b.Reset()
	i := 0
	for i < len(s) {
		if isDigit(s[i]) {
			j := i + 1
			for j < len(s) && isSpaceByte(s[j]) {
				j++
			}
			if j > i+1 && j < len(s) && isDigit(s[j]) {
				b.WriteByte(s[i])
				b.WriteByte('+')
				b.WriteByte(s[j])
				i = j + 1
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	if c < 0x80 {
		return c == '_' || isDigit(c) || isASCIILetter(c)
	}
	for _, r := range s[i:] {
		return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_'
	}
	return false
}

// replaceUnit replaces a unit word that follows a digit or blank and ends
// on a word boundary with mult.
func replaceUnit(s string, names []string, mult string) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		if i > 0 && (isDigit(s[i-1]) || isSpaceByte(s[i-1])) {
			matched := ""
			for _, n := range names {
				if len(s)-i >= len(n) && strings.EqualFold(s[i:i+len(n)], n) && !isWordAt(s, i+len(n)) {
					matched = s[i : i+len(n)]
					break
				}
			}
			if matched != "" {
				b.WriteString(mult)
				i += len(matched)
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
