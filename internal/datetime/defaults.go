package datetime

import (
	"fmt"
	"regexp"
	"strings"
)

// defaultPatterns is fail2ban's default template set, in its order.
// Examples of what each one reads are given alongside.
var defaultPatterns = []string{
	// 2005-01-23T21:59:59.981746, 2005/01/23 21:59:59, 2006.12.21 06:43:20 +0100
	`%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
	// Sun Jan 23 21:59:59.011 2005 (syslog: "Jan  2 15:04:05")
	`(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	// Sun Jan 23 2005 21:59:59.011
	`(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?`,
	// 23/01/2005 21:59:59, 23/01/05 21:59:59, 17-07-2008 17:23:25
	`%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S`,
	// [31/Oct/2006:09:22:55 -0000], 26-Jul-2007 15:20:52.252 +0200
	`%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`,
	// 05/20/2008:01:57:39
	`%m/%d/%ExY:%H:%M:%S`,
	// 01-27-2012 16:22:44.252
	`%m-%d-%ExY %k:%M:%S(?:\.%f)?`,
	// 1138215279, [1138215279.555], audit(1138215279.555:1)
	`EPOCH`,
	// 21:59:59 at the start of a line
	`{^LN-BEG}%H:%M:%S`,
	// <09/16/08@05:03:30>
	`^<%m/%d/%Exy@%H:%M:%S>`,
	// MySQL: 130322 11:46:11
	`%Exy%Exm%Exd  ?%H:%M:%S`,
	// Apache Tomcat: Jan 23, 2005 9:59:59 PM
	`%b %d, %ExY %I:%M:%S %p`,
	// ASSP: Apr-27-13 02:33:06
	`^%b-%d-%Exy %k:%M:%S`,
	// 20050123T215959, 20050123 215959
	`%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?`,
	// monit: PDT Apr 16 21:05:29
	`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	// +00:00 Jan 23 21:59:59.011 2005
	`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	`TAI64N`,
}

// fastKinds names the hand-written matcher of each default pattern.
var fastKinds = map[int]fastKind{0: fastISO, 1: fastSyslog, 4: fastApache}

// builder creates templates for one detector.
type builder struct {
	dirs []directive
	ymax int
}

// fromString makes the template for one datepattern entry, recognising
// the EPOCH/LEPOCH/TAI64N keywords like fail2ban's pattern cache does.
func (b *builder) fromString(pattern, key string) (*template, error) {
	if strings.Contains(key, "EPOCH") {
		if i, _ := findEpochMarker(pattern); i >= 0 {
			return newEpochTemplate(false, pattern, strings.Contains(key, "LEPOCH"))
		}
		switch key {
		case "EPOCH", "{^LN-BEG}EPOCH", "^EPOCH":
			return newEpochTemplate(key != "EPOCH", "", false)
		case "LEPOCH", "{^LN-BEG}LEPOCH", "^LEPOCH":
			return newEpochTemplate(key != "LEPOCH", "", true)
		}
	}
	switch key {
	case "TAI64N", "{^LN-BEG}TAI64N", "^TAI64N":
		return newTAI64NTemplate(key != "TAI64N")
	}
	return newPatternTemplate(pattern, b.dirs)
}

func patternKey(p string) string {
	if strings.Contains(p, "%") {
		return p
	}
	return strings.ToUpper(p)
}

// anchored returns the line-begin variant of t (fail2ban adds one for
// every default template not already anchored).
func (b *builder) anchored(t *template, wrap func(string) string) (*template, error) {
	if t.kind != kindPattern {
		name := wrap(t.name)
		return b.fromString(name, patternKey(name))
	}
	p := wrap(t.pattern)
	return b.fromString(p, patternKey(p))
}

// defaults builds fail2ban's default list: the anchored variants first
// (weight 100, so they stay preferred), then the plain templates.
func (b *builder) defaults() ([]*template, error) {
	var anch, plain []*template
	for i, p := range defaultPatterns {
		t, err := b.fromString(p, patternKey(p))
		if err != nil {
			return nil, fmt.Errorf("default template %q: %w", p, err)
		}
		t.needs |= defaultNeeds[i]
		if !strings.HasPrefix(t.name, markLineBegin) && !strings.HasPrefix(t.name, "^") {
			a, err := b.anchored(t, func(s string) string { return markLineBegin + s })
			if err != nil {
				return nil, err
			}
			if a.name != t.name {
				a.attachFast(fastKinds[i], b.ymax)
				a.weight = 100
				a.needs |= defaultNeeds[i]
				anch = append(anch, a)
			}
		}
		t.attachFast(fastKinds[i], b.ymax)
		plain = append(plain, t)
	}
	return append(anch, plain...), nil
}

// baseDefaults are the plain default templates, used to expand {DATE}.
func (b *builder) baseDefaults() ([]*template, error) {
	var out []*template
	for _, p := range defaultPatterns {
		t, err := b.fromString(p, patternKey(p))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// datePrematch finds {DATE} not preceded by a backslash, any case.
var datePrematch = regexp.MustCompile(`(?i)(^|[^\\])\{DATE\}`)

// replaceDate substitutes every {DATE} of pre by repl.
func replaceDate(pre, repl string) string {
	return datePrematch.ReplaceAllStringFunc(pre, func(m string) string {
		if len(m) > len("{DATE}") {
			return m[:1] + repl
		}
		return repl
	})
}

// isAnchoredDefault reports whether name is the name of a line-anchored
// copy of a default template.
func (b *builder) isAnchoredDefault(name string) bool {
	rest, ok := strings.CutPrefix(name, markLineBegin)
	if !ok {
		return false
	}
	for _, p := range defaultPatterns {
		if strings.HasPrefix(p, markLineBegin) || strings.HasPrefix(p, "^") {
			continue
		}
		switch p {
		case "EPOCH":
			if rest == "Epoch" {
				return true
			}
		case "TAI64N":
			if rest == "TAI64N" {
				return true
			}
		default:
			if _, n, _, err := expandPattern(p, b.dirs); err == nil && n == rest {
				return true
			}
		}
	}
	return false
}
