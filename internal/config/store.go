package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// reader reads files out of one tree and remembers what it parsed, so a
// file included by many others (filter.d/common.conf) is parsed once per
// load. It is built per Load call and never shared.
type reader struct {
	fsys  fs.FS
	root  string // the tree's directory as the user named it, for absolute includes
	cache map[string]*iniFile
}

func newReader(fsys fs.FS, root string) *reader {
	return &reader{fsys: fsys, root: strings.TrimRight(root, "/"), cache: map[string]*iniFile{}}
}

func (r *reader) exists(name string) bool {
	st, err := fs.Stat(r.fsys, name)
	return err == nil && !st.IsDir()
}

func (r *reader) parse(name string) (*iniFile, error) {
	if f, ok := r.cache[name]; ok {
		return f, nil
	}
	b, err := fs.ReadFile(r.fsys, name)
	if err != nil {
		return nil, err
	}
	f, err := parseINI(name, b)
	if err != nil {
		return nil, err
	}
	r.cache[name] = f
	return f, nil
}

// glob lists dir/*ext sorted, leaving out hidden files as Python's glob does.
func (r *reader) glob(dir, ext string) []string {
	ents, err := fs.ReadDir(r.fsys, dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ext) || e.IsDir() {
			continue
		}
		out = append(out, path.Join(dir, n))
	}
	sort.Strings(out)
	return out
}

// layerFiles lists the files that make up base, in reading order:
// base.conf, base.d/*.conf, base.local, base.d/*.local.
func (r *reader) layerFiles(base string) []string {
	cands := []string{base + ".conf"}
	cands = append(cands, r.glob(base+".d", ".conf")...)
	cands = append(cands, base+".local")
	cands = append(cands, r.glob(base+".d", ".local")...)
	var out []string
	for _, c := range cands {
		if r.exists(c) {
			out = append(out, c)
		}
	}
	return out
}

// withLocal puts each file's .local sibling right after it, when it exists
// and is not listed already.
func (r *reader) withLocal(files []string) []string {
	in := map[string]bool{}
	for _, f := range files {
		in[f] = true
	}
	var out []string
	for _, f := range files {
		out = append(out, f)
		l := strings.TrimSuffix(f, path.Ext(f)) + ".local"
		if !in[l] && r.exists(l) {
			out = append(out, l)
		}
	}
	return out
}

// expand returns files with their [INCLUDES] before/after files around
// them, recursively. chain is the list of files including this one, to
// report cycles.
func (r *reader) expand(files []string, chain []string, from Pos) ([]string, error) {
	var out []string
	for _, f := range r.withLocal(files) {
		got, err := r.expandOne(f, chain, from)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

func (r *reader) expandOne(name string, chain []string, from Pos) ([]string, error) {
	if !r.exists(name) {
		if from.File == "" || strings.HasSuffix(name, ".local") {
			// .local companions are optional by convention.
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w: %s", from, ErrMissingInclude, name)
	}
	f, err := r.parse(name)
	if err != nil {
		return nil, err
	}
	var before, after []string
	if inc := f.section("INCLUDES"); inc != nil {
		for _, which := range []string{"before", "after"} {
			v, ok := inc.get(which)
			if !ok {
				continue
			}
			for _, line := range strings.Split(v.Text, "\n") {
				if line == "" {
					continue
				}
				target, err := r.resolveInclude(path.Dir(name), line, v.Pos)
				if err != nil {
					return nil, err
				}
				next := append(append([]string(nil), chain...), name)
				for _, c := range next {
					if c == target {
						return nil, fmt.Errorf("%s: %w: %s -> %s", v.Pos, ErrIncludeCycle,
							strings.Join(cycleFrom(next, target), " -> "), target)
					}
				}
				got, err := r.expand([]string{target}, next, v.Pos)
				if err != nil {
					return nil, err
				}
				if which == "before" {
					before = append(before, got...)
				} else {
					after = append(after, got...)
				}
			}
		}
	}
	out := append(before, name)
	return append(out, after...), nil
}

func cycleFrom(chain []string, target string) []string {
	for i, c := range chain {
		if c == target {
			return chain[i:]
		}
	}
	return chain
}

func (r *reader) resolveInclude(dir, inc string, at Pos) (string, error) {
	if strings.HasPrefix(inc, "/") {
		if r.root != "" && strings.HasPrefix(inc, r.root+"/") {
			return path.Clean(strings.TrimPrefix(inc, r.root+"/")), nil
		}
		return "", fmt.Errorf("%s: %w: %s is outside the tree %s", at, ErrMissingInclude, inc, r.root)
	}
	p := path.Clean(path.Join(dir, inc))
	if !fs.ValidPath(p) {
		return "", fmt.Errorf("%s: %w: %s is outside the tree", at, ErrMissingInclude, inc)
	}
	return p, nil
}

// store is a merged view of several files, as fail2ban's parser keeps it
// after reading a layer: one DEFAULT, the sections by name, and for each
// section a KNOWN/name shadow holding the values later files replaced.
type store struct {
	files    []string
	defaults *section
	sections map[string]*section
	order    []string
}

var condSectionRE = regexp.MustCompile(`^(\w+)(\?.+)$`)

// load reads the layer base (with includes) into a store. It returns
// fs.ErrNotExist when none of the layer's files exist.
func (r *reader) load(base string) (*store, error) {
	top := r.layerFiles(base)
	if len(top) == 0 {
		return nil, fmt.Errorf("%s.conf: %w", base, fs.ErrNotExist)
	}
	return r.loadFiles(top)
}

func (r *reader) loadFiles(top []string) (*store, error) {
	files, err := r.expand(top, nil, Pos{})
	if err != nil {
		return nil, err
	}
	st := &store{files: files, defaults: newSection(defaultSection, Pos{}), sections: map[string]*section{}}
	for _, name := range files {
		f, err := r.parse(name)
		if err != nil {
			return nil, err
		}
		for _, k := range f.Defaults.keys {
			st.defaults.set(k, f.Defaults.vals[k])
		}
		for _, s := range f.Sections {
			n := s.Name
			if m := condSectionRE.FindStringSubmatch(n); m != nil {
				n = m[1]
				c := newSection(n, s.Pos)
				for _, k := range s.keys {
					c.set(k+m[2], s.vals[k])
				}
				s = c
			}
			prev, ok := st.sections[n]
			if !ok {
				c := s.clone()
				c.Name = n
				st.sections[n] = c
				st.order = append(st.order, n)
				continue
			}
			known := st.sections["KNOWN/"+n]
			if known == nil {
				known = newSection("KNOWN/"+n, s.Pos)
				st.sections[known.Name] = known
			}
			for _, k := range prev.keys {
				if s.has(k) {
					known.set(k, prev.vals[k])
				}
			}
			for _, k := range s.keys {
				prev.set(k, s.vals[k])
			}
		}
	}
	return st, nil
}

// Sections lists section names in the order first seen, without the
// KNOWN/ shadows.
func (st *store) Sections() []string {
	var out []string
	for _, n := range st.order {
		if !strings.HasPrefix(n, "KNOWN/") {
			out = append(out, n)
		}
	}
	return out
}

func (st *store) section(name string) *section { return st.sections[name] }

// raw finds opt in sec or DEFAULT without interpolation.
func (st *store) raw(sec, opt string) (value, bool) {
	if s := st.sections[sec]; s != nil {
		if v, ok := s.get(opt); ok {
			return v, true
		}
	}
	return st.defaults.get(opt)
}

// errNoOption and errNoSection mark lookups that found nothing; callers
// fall back to defaults on them, as fail2ban does.
var (
	errNoOption  = errors.New("no such option")
	errNoSection = errors.New("no such section")
)
