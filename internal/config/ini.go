package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// value is one option's text with the place it was written.
type value struct {
	Text string
	Pos  Pos
}

// section is an ordered map of lower-cased option names to values, the way
// Python dicts keep insertion order (a replaced key keeps its place).
type section struct {
	Name string
	Pos  Pos
	keys []string
	vals map[string]value
}

func newSection(name string, pos Pos) *section {
	return &section{Name: name, Pos: pos, vals: map[string]value{}}
}

func (s *section) set(k string, v value) {
	if _, ok := s.vals[k]; !ok {
		s.keys = append(s.keys, k)
	}
	s.vals[k] = v
}

func (s *section) get(k string) (value, bool) {
	if s == nil {
		return value{}, false
	}
	v, ok := s.vals[k]
	return v, ok
}

func (s *section) has(k string) bool {
	_, ok := s.get(k)
	return ok
}

// Keys returns the option names in insertion order.
func (s *section) Keys() []string {
	if s == nil {
		return nil
	}
	return s.keys
}

func (s *section) clone() *section {
	c := newSection(s.Name, s.Pos)
	for _, k := range s.keys {
		c.set(k, s.vals[k])
	}
	return c
}

// iniFile is one parsed file: [DEFAULT] plus the other sections in order.
type iniFile struct {
	Name     string
	Defaults *section
	Sections []*section
}

func (f *iniFile) section(name string) *section {
	for _, s := range f.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// condOptRE matches the name of a conditional option, "name?key=value",
// followed by the separator.
var condOptRE = regexp.MustCompile(`^(\w[\w.\-]*\?\w+=[^\s=:]+)\s*[=:]`)

// defaultSection is the name of the section every other one inherits from.
const defaultSection = "DEFAULT"

// parseINI reads src in the dialect of Python's ConfigParser as fail2ban
// configures it: '#' and ';' start whole-line comments, ';' after blank
// space starts an inline comment ('#' does not), lines indented deeper than
// their option continue its value (joined with "\n", blank lines kept
// inside), option names are lower-cased and section names kept as written.
// A section or option written twice in one file is an error, as in
// ConfigParser's strict mode.
func parseINI(name string, src []byte) (*iniFile, error) {
	if !utf8.Valid(src) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotUTF8)
	}
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	// Python reads text files with universal newlines.
	src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
	src = bytes.ReplaceAll(src, []byte("\r"), []byte("\n"))
	f := &iniFile{Name: name, Defaults: newSection(defaultSection, Pos{File: name})}
	type pending struct {
		sec   *section
		key   string
		lines []string
		pos   Pos
	}
	var (
		cur      *section // nil until the first header
		opt      *pending
		indent   = -1
		seenSec  = map[string]bool{}
		seenOpt  = map[string]bool{}
		finished []pending
	)
	flush := func() {
		if opt != nil {
			finished = append(finished, *opt)
			opt = nil
		}
	}
	text := string(src)
	lineNo := 0
	for len(text) > 0 {
		lineNo++
		var line string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i+1], text[i+1:]
		} else {
			line, text = text, ""
		}
		pos := Pos{File: name, Line: lineNo}
		commentAt := inlineComment(line)
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";") {
			commentAt = 0
		}
		content := line
		if commentAt >= 0 {
			content = line[:commentAt]
		}
		content = strings.TrimSpace(content)
		if content == "" {
			// A blank line belongs to the value being read (trailing
			// ones are dropped at the end); a comment line does not.
			if commentAt < 0 && opt != nil {
				opt.lines = append(opt.lines, "")
			}
			continue
		}
		lvl := strings.IndexFunc(line, func(r rune) bool { return !unicode.IsSpace(r) })
		if opt != nil && lvl > indent {
			opt.lines = append(opt.lines, content)
			continue
		}
		indent = lvl
		if strings.HasPrefix(content, "[") {
			if hdr, ok := sectionHeader(content); ok {
				flush()
				if seenSec[hdr] {
					return nil, fmt.Errorf("%s: section [%s] %w", pos, hdr, ErrDuplicate)
				}
				seenSec[hdr] = true
				if hdr == defaultSection {
					cur = f.Defaults
				} else {
					cur = newSection(hdr, pos)
					f.Sections = append(f.Sections, cur)
				}
				continue
			}
		}
		if cur == nil {
			if strings.HasPrefix(content, "[") {
				return nil, fmt.Errorf("%s: %w: %q", pos, ErrBadHeader, content)
			}
			return nil, fmt.Errorf("%s: %w: %q", pos, ErrNoSection, content)
		}
		sep := strings.IndexAny(content, "=:")
		if m := condOptRE.FindStringSubmatchIndex(content); m != nil {
			// "name?family=inet6 = value" (fail2ban 1.1): the '=' of
			// the condition belongs to the name.
			sep = m[3]
			for sep < len(content) && content[sep] != '=' && content[sep] != ':' {
				sep++
			}
		}
		key := ""
		if sep > 0 {
			key = strings.ToLower(strings.TrimSpace(content[:sep]))
		}
		if key == "" {
			if strings.HasPrefix(content, "[") {
				return nil, fmt.Errorf("%s: %w: %q", pos, ErrBadHeader, content)
			}
			return nil, fmt.Errorf("%s: %w: %q", pos, ErrSyntax, content)
		}
		flush()
		id := cur.Name + "\x00" + key
		if seenOpt[id] {
			return nil, fmt.Errorf("%s: option %q in section [%s] %w", pos, key, cur.Name, ErrDuplicate)
		}
		seenOpt[id] = true
		opt = &pending{sec: cur, key: key, lines: []string{strings.TrimSpace(content[sep+1:])}, pos: pos}
	}
	flush()
	for _, p := range finished {
		v := strings.TrimRightFunc(strings.Join(p.lines, "\n"), unicode.IsSpace)
		p.sec.set(p.key, value{Text: v, Pos: p.pos})
	}
	return f, nil
}

// inlineComment returns where a ';' comment starts in line (a ';' at the
// start or after blank space), or -1.
func inlineComment(line string) int {
	for i := 0; i < len(line); i++ {
		if line[i] != ';' {
			continue
		}
		if i == 0 {
			return 0
		}
		r, _ := utf8.DecodeLastRuneInString(line[:i])
		if unicode.IsSpace(r) {
			return i
		}
	}
	return -1
}

// sectionHeader recognises "[name]" as ConfigParser does: the name runs to
// the last ']' on the line.
func sectionHeader(s string) (string, bool) {
	end := strings.LastIndexByte(s, ']')
	if end < 2 {
		return "", false
	}
	return s[1:end], true
}
