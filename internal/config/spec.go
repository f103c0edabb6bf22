package config

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// parseSpec splits "name[k=v, k2="a,b"][k3='x']" into the name and its
// parameters. Values may be quoted with " or ' (then they may hold commas
// and ']'); unquoted values run to the next ',' or ']'.
func parseSpec(spec string) (string, *omap, error) {
	params := newOmap()
	open := strings.IndexByte(spec, '[')
	if open < 0 {
		if spec == "" {
			return "", nil, fmt.Errorf("%w: empty name", ErrBadSpec)
		}
		return spec, params, nil
	}
	name := strings.TrimSpace(spec[:open])
	rest := strings.TrimRightFunc(spec[open:], unicode.IsSpace)
	if name == "" || !strings.HasSuffix(rest, "]") {
		return "", nil, fmt.Errorf("%w: %q", ErrBadSpec, clip(spec))
	}
	body := rest[1 : len(rest)-1]
	i := 0
	for i <= len(body) {
		j := skipSpace(body, i)
		k := j
		for k < len(body) {
			r, n := utf8.DecodeRuneInString(body[k:])
			if !(r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				break
			}
			k += n
		}
		if k > j && k < len(body) && body[k] == '=' {
			key := body[j:k]
			val, v := specValue(body, k+1)
			params.Set(strings.TrimSpace(key), strings.TrimSpace(val))
			switch {
			case v == len(body) || (v == len(body)-1 && body[v] == '\n'):
				return name, params, nil
			case body[v] == ',':
				i = v + 1
				continue
			case body[v] == ']':
				w := skipSpace(body, v+1)
				if w < len(body) && body[w] == '[' {
					i = w + 1
					continue
				}
			}
			return "", nil, fmt.Errorf("%w: unexpected %q after %s", ErrBadSpec, clip(body[v:]), key)
		}
		// Only an optional ',' and blanks may end the list.
		t := i
		if t < len(body) && body[t] == ',' {
			t++
		}
		if strings.TrimSpace(body[t:]) == "" {
			return name, params, nil
		}
		return "", nil, fmt.Errorf("%w: expected name=value at %q", ErrBadSpec, clip(body[i:]))
	}
	return name, params, nil
}

// ParseSpec reads "name[k=v, ...]", the way jail.conf gives a filter, an
// action or a backend its options, with the rules the jails' own lines are
// read by: it returns the name and the options in the order written (a key
// given twice keeps its first place and takes its last value). Errors wrap
// ErrBadSpec.
func ParseSpec(spec string) (name string, opts [][2]string, err error) {
	name, m, err := parseSpec(strings.TrimSpace(spec))
	if err != nil {
		return "", nil, err
	}
	for _, k := range m.Keys() {
		v, _ := m.Get(k)
		opts = append(opts, [2]string{k, v})
	}
	return name, opts, nil
}

// specValue reads a parameter value starting at body[v]: a quoted string
// when the quote is closed, else everything up to the next ',' or ']'.
func specValue(body string, v int) (string, int) {
	if v < len(body) && (body[v] == '"' || body[v] == '\'') {
		if end := strings.IndexByte(body[v+1:], body[v]); end >= 0 {
			return body[v+1 : v+1+end], v + 2 + end
		}
	}
	end := strings.IndexAny(body[v:], ",]")
	if end < 0 {
		end = len(body) - v
	}
	return body[v : v+end], v + end
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

// splitSpecs splits an action list ("a[x=1]\n b[y=\"p q\"] c") into
// entries: a name with its bracketed parameters, or a bare word.
func splitSpecs(s string) []string {
	var out []string
	i := 0
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return out
		}
		start := i
		for i < len(s) && s[i] != '[' {
			r, n := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) {
				break
			}
			i += n
		}
		if i == start {
			// A stray '[': take the whole word.
			for i < len(s) && !isSpaceByte(s[i]) {
				i++
			}
			out = append(out, s[start:i])
			continue
		}
		j := skipSpace(s, i)
		if j < len(s) && s[j] == '[' {
			if end, ok := bracketEnd(s, j); ok {
				i = end
			} else {
				for i < len(s) && !isSpaceByte(s[i]) {
					i++
				}
			}
		}
		out = append(out, strings.TrimSpace(s[start:i]))
	}
}

// bracketEnd finds the end of "[...]" (and following "[...]" groups)
// starting at s[i] == '[', honouring quotes. ok is false when unbalanced.
func bracketEnd(s string, i int) (int, bool) {
	for {
		i++ // past '['
		for i < len(s) && s[i] != ']' {
			if s[i] == '"' || s[i] == '\'' {
				if e := strings.IndexByte(s[i+1:], s[i]); e >= 0 {
					i += e + 2
					continue
				}
				return 0, false
			}
			i++
		}
		if i >= len(s) {
			return 0, false
		}
		i++ // past ']'
		j := skipSpace(s, i)
		if j < len(s) && s[j] == '[' {
			i = j
			continue
		}
		return i, true
	}
}
