package defaults

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// This file holds a deliberately small reader for the INI dialect, enough to
// check the shape of the embedded tree without depending on internal/config.

// iniKey is one option of a section.
type iniKey struct {
	Name  string
	Value string
	Line  int
}

// iniSection is one [section] with its options in file order.
type iniSection struct {
	Name string
	Line int
	Keys []iniKey
}

// iniFile is a parsed file.
type iniFile struct {
	Name     string
	Sections []*iniSection
}

// section returns the named section or nil.
func (f *iniFile) section(name string) *iniSection {
	for _, s := range f.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// get returns the value of key in section and whether it is set.
func (f *iniFile) get(section, key string) (string, bool) {
	s := f.section(section)
	if s == nil {
		return "", false
	}
	for _, k := range s.Keys {
		if k.Name == key {
			return k.Value, true
		}
	}
	return "", false
}

// parseINI reads text in the configparser style fail2ban uses: "[name]"
// headers, "key = value" options, indented continuation lines, and "#" or
// ";" comment lines. Option names are case-insensitive (stored lower-case),
// duplicates are errors, as in Python's strict configparser.
func parseINI(name, text string) (*iniFile, error) {
	f := &iniFile{Name: name}
	var cur *iniSection
	var last *iniKey
	seenSec := map[string]bool{}
	for i, raw := range strings.Split(text, "\n") {
		ln := i + 1
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimLeft(line, " \t")
		switch {
		case trimmed == "":
			last = nil
			continue
		case trimmed[0] == '#' || trimmed[0] == ';':
			continue
		case line[0] == ' ' || line[0] == '\t':
			if last == nil {
				return nil, fmt.Errorf("%s:%d: continuation line without an option", name, ln)
			}
			last.Value += "\n" + trimmed
			cur.Keys[len(cur.Keys)-1] = *last
			continue
		}
		last = nil
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 || strings.TrimSpace(line[end+1:]) != "" {
				return nil, fmt.Errorf("%s:%d: malformed section header %q", name, ln, line)
			}
			sec := line[1:end]
			if sec == "" {
				return nil, fmt.Errorf("%s:%d: empty section name", name, ln)
			}
			if seenSec[sec] {
				return nil, fmt.Errorf("%s:%d: duplicate section [%s]", name, ln, sec)
			}
			seenSec[sec] = true
			cur = &iniSection{Name: sec, Line: ln}
			f.Sections = append(f.Sections, cur)
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			return nil, fmt.Errorf("%s:%d: expected \"key = value\", got %q", name, ln, line)
		}
		if cur == nil {
			return nil, fmt.Errorf("%s:%d: option outside of a section", name, ln)
		}
		key := strings.ToLower(strings.TrimSpace(line[:eq]))
		if key == "" {
			return nil, fmt.Errorf("%s:%d: empty option name", name, ln)
		}
		for _, k := range cur.Keys {
			if k.Name == key {
				return nil, fmt.Errorf("%s:%d: duplicate option %q in [%s] (first at line %d)", name, ln, key, cur.Name, k.Line)
			}
		}
		cur.Keys = append(cur.Keys, iniKey{Name: key, Value: strings.TrimSpace(line[eq+1:]), Line: ln})
		last = &cur.Keys[len(cur.Keys)-1]
	}
	return f, nil
}

// render writes f back in canonical form; parseINI(render(f)) gives f again.
func (f *iniFile) render() string {
	var b strings.Builder
	for _, s := range f.Sections {
		fmt.Fprintf(&b, "[%s]\n", s.Name)
		for _, k := range s.Keys {
			fmt.Fprintf(&b, "%s = %s\n", k.Name, strings.ReplaceAll(k.Value, "\n", "\n\t"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// stack is a file together with everything it includes, in reading order
// (before-includes, the file, after-includes); later files win.
type stack []*iniFile

var reInclude = regexp.MustCompile(`\S+`)

// loadStack reads name from fsys and, recursively, the files its
// [INCLUDES] name. Missing ".local" files are skipped, as fail2ban does;
// a missing ".conf" is an error.
func loadStack(fsys fs.FS, name string, depth int) (stack, error) {
	if depth > 10 {
		return nil, fmt.Errorf("%s: includes nested too deep", name)
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	f, err := parseINI(name, string(data))
	if err != nil {
		return nil, err
	}
	var out stack
	dir := path.Dir(name)
	incl := func(key string) error {
		v, ok := f.get("INCLUDES", key)
		if !ok {
			return nil
		}
		for _, inc := range reInclude.FindAllString(v, -1) {
			p := path.Join(dir, inc)
			if strings.HasSuffix(inc, ".local") {
				if _, err := fs.Stat(fsys, p); err != nil {
					continue
				}
			}
			sub, err := loadStack(fsys, p, depth+1)
			if err != nil {
				return fmt.Errorf("%s: [INCLUDES] %s: %w", name, key, err)
			}
			out = append(out, sub...)
		}
		return nil
	}
	if err := incl("before"); err != nil {
		return nil, err
	}
	out = append(out, f)
	if err := incl("after"); err != nil {
		return nil, err
	}
	return out, nil
}

// lookup finds key as configparser would for section: the section's own
// value, then DEFAULT, the last file of the stack winning.
func (st stack) lookup(section, key string) (string, bool) {
	for i := len(st) - 1; i >= 0; i-- {
		if v, ok := st[i].get(section, key); ok {
			return v, true
		}
	}
	for i := len(st) - 1; i >= 0; i-- {
		if v, ok := st[i].get("DEFAULT", key); ok {
			return v, true
		}
	}
	return "", false
}

var rePercent = regexp.MustCompile(`%\(([^)]+)\)s`)

// expand resolves %(name)s references in v for section, with __name__ set
// to the section name. "%%" stays "%%" (fail2ban hands it on as "%").
func (st stack) expand(section, v string, depth int) (string, error) {
	if depth > 20 {
		return "", fmt.Errorf("[%s]: %%(...)s references nested too deep", section)
	}
	var firstErr error
	out := rePercent.ReplaceAllStringFunc(v, func(m string) string {
		name := rePercent.FindStringSubmatch(m)[1]
		if name == "__name__" {
			return section
		}
		val, ok := st.lookup(section, strings.ToLower(name))
		if !ok {
			if firstErr == nil {
				firstErr = fmt.Errorf("[%s]: %%(%s)s is not defined", section, name)
			}
			return m
		}
		x, err := st.expand(section, val, depth+1)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return x
	})
	return out, firstErr
}
