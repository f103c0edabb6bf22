package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// maxInterpDepth is how deep %(name)s references may nest before the value
// is taken to be a loop (ConfigParser's limit).
const maxInterpDepth = 10

// vars are extra values that take precedence over a section's own, keyed by
// lower-case name (ConfigParser's vars argument).
type vars map[string]string

// lookup is the chain a %(name)s reference is resolved in.
type lookup struct {
	st   *store
	sec  string
	vars vars
	own  *section
}

func (l *lookup) find(key string) (string, bool) {
	if key == "__name__" {
		return l.sec, true
	}
	if v, ok := l.vars[key]; ok {
		return v, true
	}
	if v, ok := l.own.get(key); ok {
		return v.Text, true
	}
	if v, ok := l.st.defaults.get(key); ok {
		return v.Text, true
	}
	return l.foreign(key)
}

var (
	sectionOptRE    = regexp.MustCompile(`^([\w\-]+)/([^)]+)$`)
	tagSectionOptRE = regexp.MustCompile(`^([\w\-]+)/([^\s>]+)$`)
)

func isMissing(err error) bool {
	return errors.Is(err, errNoOption) || errors.Is(err, errNoSection)
}

// foreign resolves "section/option", "known/option" and "default/option"
// references: the raw value from that section, else from DEFAULT.
func (l *lookup) foreign(key string) (string, bool) {
	m := sectionOptRE.FindStringSubmatch(key)
	if m == nil {
		return "", false
	}
	sec, opt := m[1], m[2]
	switch strings.ToLower(sec) {
	case "default":
	case "known":
		if v, ok := l.st.sections["KNOWN/"+l.sec].get(opt); ok {
			return v.Text, true
		}
	default:
		s := l.st.sections[sec]
		if s == nil {
			return "", false
		}
		if v, ok := s.get(opt); ok {
			return v.Text, true
		}
	}
	if v, ok := l.st.defaults.get(opt); ok {
		return v.Text, true
	}
	return "", false
}

// get returns opt of sec with %(name)s references expanded; vs override
// the section's values. It reports errNoSection/errNoOption (wrapped) when
// there is nothing to return.
func (st *store) get(sec, opt string, vs vars) (string, Pos, error) {
	opt = strings.ToLower(opt)
	own := st.sections[sec]
	if own == nil && sec != defaultSection {
		return "", Pos{}, fmt.Errorf("[%s]: %w", sec, errNoSection)
	}
	l := &lookup{st: st, sec: sec, vars: vs, own: own}
	var raw string
	var pos Pos
	if v, ok := vs[opt]; ok {
		raw = v
	} else if v, ok := own.get(opt); ok {
		raw, pos = v.Text, v.Pos
	} else if v, ok := st.defaults.get(opt); ok {
		raw, pos = v.Text, v.Pos
	} else {
		return "", Pos{}, fmt.Errorf("[%s] %s: %w", sec, opt, errNoOption)
	}
	if pos.File == "" && own != nil {
		pos = own.Pos
	}
	var b strings.Builder
	if err := l.expand(&b, raw, 1); err != nil {
		return "", pos, fmt.Errorf("%s: option %q in [%s]: %w", pos, opt, sec, err)
	}
	return b.String(), pos, nil
}

func (l *lookup) expand(b *strings.Builder, rest string, depth int) error {
	if depth > maxInterpDepth {
		return fmt.Errorf("%w: nested more than %d deep (a reference loop?)", ErrInterpolation, maxInterpDepth)
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			return nil
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			end := strings.IndexByte(rest, ')')
			if end < 3 || !strings.HasPrefix(rest[end:], ")s") {
				return fmt.Errorf("%w: bad reference %q", ErrInterpolation, clip(rest))
			}
			name := rest[2:end]
			rest = rest[end+2:]
			key := strings.ToLower(name)
			v, ok := "", false
			if key == name || !sectionOptRE.MatchString(name) {
				v, ok = l.find(key)
			} else {
				// fail2ban maps section/option names as written and
				// looks them up lower-cased, so mixed case never matches
				// a foreign section; plain names still do.
				v, ok = l.findLocal(key)
			}
			if !ok {
				return fmt.Errorf("%w: %%(%s)s is not defined", ErrInterpolation, name)
			}
			if strings.Contains(v, "%") {
				if err := l.expand(b, v, depth+1); err != nil {
					return err
				}
			} else {
				b.WriteString(v)
			}
		default:
			return fmt.Errorf("%w: '%%' must be followed by '%%' or '(' in %q", ErrInterpolation, clip(rest))
		}
	}
	return nil
}

func (l *lookup) findLocal(key string) (string, bool) {
	if key == "__name__" {
		return l.sec, true
	}
	if v, ok := l.vars[key]; ok {
		return v, true
	}
	if v, ok := l.own.get(key); ok {
		return v.Text, true
	}
	v, ok := l.st.defaults.get(key)
	return v.Text, ok
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// getEx is get that also understands "section/option" names: known/opt
// reads the value the option had before the last layer (falling back to
// the current one), default/opt reads [DEFAULT].
func (st *store) getEx(sec, opt string, vs vars) (string, error) {
	if strings.Contains(opt, "/") {
		if m := tagSectionOptRE.FindStringSubmatch(opt); m != nil {
			var secs []string
			switch strings.ToLower(m[1]) {
			case "known":
				secs = []string{"KNOWN/" + sec, sec}
			case "default":
				secs = []string{defaultSection}
			default:
				secs = []string{m[1]}
			}
			for _, s := range secs {
				v, _, err := st.get(s, m[2], nil)
				if err == nil {
					return v, nil
				}
				if !isMissing(err) {
					return "", err
				}
			}
		}
	}
	v, _, err := st.get(sec, opt, vs)
	return v, err
}
