package source

import (
	"errors"
	"fmt"
	"strings"
)

// ErrMatch marks a journalmatch that journalctl would not take as matches.
var ErrMatch = errors.New("bad journalmatch")

// ParseJournalMatch turns journalmatch lines into journalctl match
// arguments. Each line is split into words as a shell would (quotes and
// backslashes), "+" separates alternatives, and the lines themselves are
// alternatives of each other, as in fail2ban. Every other word must be
// FIELD=value with FIELD made of A-Z, 0-9 and "_" (not starting with a
// digit): a word journalctl would read as a path or option is refused.
func ParseJournalMatch(lines []string) ([]string, error) {
	var args []string
	for i, line := range lines {
		words, err := shellWords(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d %q: %w", ErrMatch, i+1, line, err)
		}
		// Drop empty groups: "+" at the ends or doubled.
		var group []string
		flush := func() {
			if len(group) == 0 {
				return
			}
			if len(args) > 0 {
				args = append(args, "+")
			}
			args = append(args, group...)
			group = nil
		}
		for _, w := range words {
			if w == "+" {
				flush()
				continue
			}
			if err := checkMatchTerm(w); err != nil {
				return nil, fmt.Errorf("%w: line %d: %w", ErrMatch, i+1, err)
			}
			group = append(group, w)
		}
		flush()
	}
	return args, nil
}

func checkMatchTerm(w string) error {
	field, _, ok := strings.Cut(w, "=")
	if !ok || field == "" {
		return fmt.Errorf("%q is not FIELD=value", w)
	}
	for i, r := range field {
		if !(r >= 'A' && r <= 'Z' || r == '_' || r >= '0' && r <= '9' && i > 0) {
			return fmt.Errorf("%q: field name %q", w, field)
		}
	}
	return nil
}

// shellWords splits s into words like a POSIX shell without expansions:
// blanks separate, '...' is literal, "..." allows \" \\ \$ \`, and a
// backslash outside quotes escapes the next character.
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\\':
			in = true
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
			}
		case c == '\'':
			in = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			in = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
