package action

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"warden/internal/config"
)

// ErrRecursive reports tag definitions that refer to themselves, directly
// or through others, or that keep growing.
var ErrRecursive = errors.New("recursive tag definitions")

// maxReplace bounds how often one tag may be replaced inside another, and
// how many rounds a command gets, before the definitions count as
// recursive (fail2ban's limit is the same).
const maxReplace = 25

// maxValue bounds a substituted value so definitions that double at every
// round cannot exhaust memory.
const maxValue = 1 << 20

// tagRE matches one <tag>: no blanks and no angle brackets inside.
var tagRE = regexp.MustCompile(`<([^ <>]+)>`)

// fieldTagRE matches the name of a filter capture tag, F-USER and the like
// (upper case only, as fail2ban has it).
var fieldTagRE = regexp.MustCompile(`^F-[A-Z0-9_\-]+$`)

// condFamilyRE recognises a family-conditional property name.
var condFamilyRE = regexp.MustCompile(`^(\w+)\?(family)=(.*)$`)

// outsideTags are static tags whose values come from logs; they are never
// resolved inside other properties and are backslash-escaped when a
// command uses them (fail2ban's _escapedTags).
var outsideTags = map[string]bool{"matches": true, "ipmatches": true, "ipjailmatches": true}

// props is an action's property table: its commands and parameters, by
// name. Like fail2ban's, it is walked in sorted key order.
type props struct {
	keys []string
	m    map[string]string
}

func newProps(m map[string]string) *props {
	p := &props{m: m}
	for k := range m {
		p.keys = append(p.keys, k)
	}
	sort.Strings(p.keys)
	return p
}

// lookup returns name?cond when cond is set and present, else name.
func (p *props) lookup(name, cond string) (string, bool) {
	if cond != "" {
		if v, ok := p.m[name+"?"+cond]; ok {
			return v, true
		}
	}
	v, ok := p.m[name]
	return v, ok
}

// resolve replaces tags inside every property value by other properties,
// repeating while replacements leave new tags, so nested names such as
// <a-<b>> resolve. Tags with no property stay as written. cond
// ("family=inet6") prefers name?cond over name. It is the configuration's
// substitution, walked in this table's (sorted) key order.
func (p *props) resolve(cond string) (*props, error) {
	m, err := config.SubstituteTags(p.keys, p.m, outsideTags, cond)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecursive, err)
	}
	return &props{keys: p.keys, m: m}, nil
}

// backslashEscape puts a backslash before every character a shell treats
// specially and writes newlines as \n and \r (fail2ban's escapeTag, used
// for static outside tags only).
func backslashEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if strings.ContainsRune(shellSpecial, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// extraTags are the tags every command may use without defining them.
type extraTags struct {
	hostname func(fqdn bool) string
}

func (x extraTags) get(tag string) (string, bool) {
	switch tag {
	case "br":
		return "\n", true
	case "sp":
		return " ", true
	case "fq-hostname":
		if x.hostname != nil {
			return x.hostname(true), true
		}
	case "sh-hostname":
		if x.hostname != nil {
			return x.hostname(false), true
		}
	}
	return "", false
}

// expandStatic replaces the tags of query by the resolved properties
// (name?cond first), over and over while that changes anything: this is
// how <actionban> becomes the command text. Tags without a property stay
// for the dynamic step.
func expandStatic(query string, res *props, cond string, x extraTags) (string, error) {
	if !strings.Contains(query, "<") {
		return query, nil
	}
	for range maxReplace + 1 {
		val := tagRE.ReplaceAllStringFunc(query, func(m string) string {
			tag := m[1 : len(m)-1]
			v, ok := res.lookup(tag, cond)
			if !ok {
				if v, ok := x.get(tag); ok {
					return v
				}
				return m
			}
			if outsideTags[tag] {
				return backslashEscape(v)
			}
			return v
		})
		if len(val) > maxValue {
			return "", fmt.Errorf("%w: command grows beyond %d bytes", ErrRecursive, maxValue)
		}
		if val == query || !strings.Contains(val, "<") {
			return val, nil
		}
		query = val
	}
	return "", fmt.Errorf("%w: command keeps changing after %d rounds: %.200q", ErrRecursive, maxReplace+1, query)
}
