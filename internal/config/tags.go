package config

import (
	"fmt"
	"regexp"
	"strings"
)

// omap is a string map that remembers insertion order, as the Python dicts
// fail2ban substitutes tags over do; the order decides which value a tag
// sees while others are still being replaced.
type omap struct {
	keys []string
	m    map[string]string
}

func newOmap() *omap { return &omap{m: map[string]string{}} }

func (o *omap) Set(k, v string) {
	if _, ok := o.m[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.m[k] = v
}

func (o *omap) Get(k string) (string, bool) {
	v, ok := o.m[k]
	return v, ok
}

func (o *omap) Has(k string) bool { _, ok := o.m[k]; return ok }

func (o *omap) Keys() []string { return o.keys }

func (o *omap) Len() int { return len(o.keys) }

// merged returns a copy of o with the entries of p added on top.
func (o *omap) merged(p *omap) *omap {
	c := newOmap()
	for _, k := range o.keys {
		c.Set(k, o.m[k])
	}
	if p != nil {
		for _, k := range p.keys {
			c.Set(k, p.m[k])
		}
	}
	return c
}

func (o *omap) toMap() map[string]string {
	out := make(map[string]string, len(o.keys))
	for _, k := range o.keys {
		out[k] = o.m[k]
	}
	return out
}

// maxTagReplace bounds how often one tag may be replaced inside another
// before the definitions are taken to be recursive.
const maxTagReplace = 25

// maxTagValue bounds a substituted value, so definitions that double at
// each level cannot exhaust memory.
const maxTagValue = 256 << 10

var tagRE = regexp.MustCompile(`<([^ <>]+)>`)

// tagError is a failed substitution of one tag; it matches ErrTagLoop.
type tagError struct {
	tag, msg string
}

func (e *tagError) Error() string { return ErrTagLoop.Error() + ": " + e.msg }
func (e *tagError) Unwrap() error { return ErrTagLoop }

// SubstituteTags resolves <tag> references among values as fail2ban's
// substituteRecursiveTags does (see substituteTags), walking keys in the
// order given; keys must name every entry of values. Tags in ignore are
// neither replaced nor resolved; conditional ("family=inet6") prefers
// name?conditional over name. Errors match ErrTagLoop. values is not changed.
func SubstituteTags(keys []string, values map[string]string, ignore map[string]bool, conditional string) (map[string]string, error) {
	in := newOmap()
	for _, k := range keys {
		in.Set(k, values[k])
	}
	out, err := substituteTags(in, ignore, conditional, nil)
	if err != nil {
		return nil, err
	}
	return out.m, nil
}

// substituteTags replaces <name> in every value by the value of name,
// repeating until nothing changes, so nested forms like <mdre-<mode>>
// resolve. Names in ignore are neither replaced nor rewritten. A tag with no
// value (a regex tag like <HOST>, a runtime one like <ip>) is left as it is;
// extra is asked for names tags does not hold (it may return ok=false).
// conditional ("family=inet6") prefers name?conditional over name.
func substituteTags(tags *omap, ignore map[string]bool, conditional string, extra func(string) (string, bool, error)) (*omap, error) {
	out := tags.merged(nil)
	done := map[string]bool{}
	counts := map[string]map[string]int{}
	for {
		again := false
		for _, tag := range tags.keys {
			if ignore[tag] || done[tag] {
				continue
			}
			val, _ := out.Get(tag)
			orig := val
			cnt := counts[tag]
			if cnt == nil {
				cnt = map[string]int{}
			}
			from := 0
			for {
				loc := tagRE.FindStringSubmatchIndex(val[from:])
				if loc == nil {
					break
				}
				start, end := from+loc[0], from+loc[1]
				name := val[from+loc[2] : from+loc[3]]
				if ignore[name] {
					from = end
					continue
				}
				c, seen := cnt[name]
				if !seen {
					c = 1
				}
				if name == tag || c > maxTagReplace {
					return nil, &tagError{tag: tag, msg: fmt.Sprintf("<%s> refers to itself (via <%s>) in %q", tag, name, clip(val))}
				}
				repl, ok := "", false
				if conditional != "" {
					repl, ok = out.Get(name + "?" + conditional)
				}
				if !ok {
					repl, ok = out.Get(name)
				}
				if !ok && extra != nil {
					var err error
					repl, ok, err = extra(name)
					if err != nil {
						return nil, err
					}
				}
				if !ok {
					from = end
					continue
				}
				val = strings.ReplaceAll(val, "<"+name+">", repl)
				if len(val) > maxTagValue {
					return nil, &tagError{tag: tag, msg: fmt.Sprintf("<%s> grows beyond %d bytes", tag, maxTagValue)}
				}
				cnt[name]++
				from = start
			}
			if val != orig {
				if tagRE.MatchString(val) {
					counts[tag] = cnt
					again = true
				}
				out.Set(tag, val)
			}
			if !strings.Contains(val, "<") {
				done[tag] = true
			}
		}
		if !again {
			return out, nil
		}
	}
}
