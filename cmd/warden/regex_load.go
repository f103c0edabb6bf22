package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"warden/internal/config"
	"warden/internal/filter"
)

// regexSetup is what `warden regex` tests: the filter definition plus what
// it prints about where it came from.
type regexSetup struct {
	def filter.Definition
	// kind is "filter" (filter.d or a filter file), "jail" or "line".
	kind string
	name string
	// journalMatch comes from the filter (or -m).
	journalMatch []string
	// maxlinesSet and datepatternSet tell whether the option was given
	// (on the command line or by the filter) and already printed.
	maxlinesSet, datepatternSet bool
}

// looksLikeFilter is fail2ban-regex's test for "this argument names a filter
// or a file, not a regex": an optional leading "/" or two, then only word
// characters, '/', '-' and '.', then optional [options].
var looksLikeFilter = regexp.MustCompile(`(?s)^/{0,3}[\w/\-.]+(?:\[.*\])?$`)

// configFS returns the configuration tree for -c. Without -c it is
// /etc/fail2ban (fail2ban-regex's default) if that has a filter.d, else, as
// the daemon falls back, /etc/warden, else the built-in tree.
func (r *regexRun) configFS() (fs.FS, string) {
	if r.configGiven {
		return os.DirFS(r.o.config), r.o.config
	}
	for _, dir := range []string{r.o.config, "/etc/warden"} {
		if st, err := os.Stat(filepath.Join(dir, "filter.d")); err == nil && st.IsDir() {
			return os.DirFS(dir), dir
		}
	}
	if efs := embeddedConfig(); efs != nil {
		return efs, builtinRoot
	}
	return os.DirFS(r.o.config), r.o.config
}

// builtinRoot is what the built-in tree stands for (as for the daemon).
const builtinRoot = "/etc/warden (built-in)"

// splitFilterSpec splits "name[opts]" into the name and the bracket part.
func splitFilterSpec(spec string) (string, string) {
	if i := strings.IndexByte(spec, '['); i >= 0 {
		return spec[:i], spec[i:]
	}
	return spec, ""
}

// readFailRegex resolves the REGEX argument the way fail2ban-regex does:
// a filter name or file if one exists, else (warden extension) a jail of
// the configuration, else a literal failregex.
func (r *regexRun) readFailRegex(value string) error {
	if looksLikeFilter.MatchString(value) {
		name, opts := splitFilterSpec(value)
		fsys, basedir := r.configFS()
		if file, inTree, ok := r.findFilterFile(fsys, basedir, name); ok {
			return r.loadFilterFile(fsys, basedir, name, opts, file, inTree)
		}
		if opts == "" && !strings.Contains(name, "/") {
			if ok, err := r.loadJail(fsys, basedir, name); ok || err != nil {
				return err
			}
		}
	}
	r.header("Use %11s line : %s", "failregex", shortstr(value, 53))
	r.setup.kind = "line"
	r.setup.def.FailRegex = []string{value}
	return nil
}

// findFilterFile looks for name, name.conf and name.local in filter.d (or
// as a path when name holds a '/'). inTree tells whether the file belongs
// to the configuration tree (and is loaded with its .local overrides and
// includes) rather than being a foreign file read on its own.
func (r *regexRun) findFilterFile(fsys fs.FS, basedir, name string) (string, bool, bool) {
	tries := []string{name}
	if !hasExtension(name) {
		tries = append(tries, name+".conf", name+".local")
	}
	for _, t := range tries {
		if strings.Contains(t, "/") {
			if st, err := os.Stat(t); err == nil && st.Mode().IsRegular() {
				dir := filepath.Dir(t)
				abs, _ := filepath.Abs(dir)
				cfg, _ := filepath.Abs(r.o.config)
				inTree := filepath.Base(dir) == "filter.d" || abs == cfg
				return t, inTree, true
			}
			continue
		}
		if st, err := fs.Stat(fsys, "filter.d/"+t); err == nil && st.Mode().IsRegular() {
			return t, true, true
		}
	}
	return "", false, false
}

// hasExtension is fail2ban's `"." in name[-6:]`.
func hasExtension(name string) bool {
	tail := name
	if len(tail) > 6 {
		tail = tail[len(tail)-6:]
	}
	return strings.Contains(tail, ".")
}

func (r *regexRun) loadFilterFile(fsys fs.FS, basedir, name, opts, file string, inTree bool) error {
	spec := name
	if inTree {
		base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(name), ".local"), ".conf")
		if strings.Contains(file, "/") {
			// A path into some tree's filter.d: load that tree.
			dir := filepath.Dir(filepath.Dir(file))
			if filepath.Base(filepath.Dir(file)) != "filter.d" {
				dir = filepath.Dir(file)
			}
			fsys, basedir = os.DirFS(dir), dir
		}
		r.header("Use %11s filter file : %s, basedir: %s", "failregex", base, basedir)
		spec = base
	} else {
		abs, err := filepath.Abs(file)
		if err != nil {
			return err
		}
		r.header("Use %11s file : %s", "failregex", abs)
		// Read the file from its parent's parent, so its includes resolve
		// beside it and config sees a path rather than a filter.d name.
		dir := filepath.Dir(abs)
		fsys = os.DirFS(filepath.Dir(dir))
		spec = filepath.Base(dir) + "/" + filepath.Base(abs)
		if filepath.Dir(dir) == dir { // file in "/"
			fsys, spec = os.DirFS(dir), "./"+filepath.Base(abs)
		}
	}
	if opts != "" {
		kv, err := optionsRepr(opts)
		if err != nil {
			return fmt.Errorf("wrong filter name or options: %w", err)
		}
		r.header("Use   filter options : %s", kv)
	}
	cf, err := config.LoadFilter(fsys, spec+opts)
	if err != nil {
		return fmt.Errorf("failed to load filter %s: %w", name+opts, err)
	}
	r.setup.kind = "filter"
	r.setup.name = cf.Name
	r.useFilter(cf)
	return nil
}

// loadJail uses the filter of jail name with the jail's options (what
// fail2ban 1.1's fail2ban-regex does for a jail name). ok is false when the
// tree has no such jail.
func (r *regexRun) loadJail(fsys fs.FS, basedir, name string) (bool, error) {
	root := basedir
	if root == builtinRoot {
		root = "/etc/warden"
	}
	cfg, err := config.Load(fsys, config.Options{Jail: name, ForceEnable: true, Root: root})
	if err != nil {
		if errors.Is(err, config.ErrUnknownJail) || errors.Is(err, config.ErrNoJailConf) || errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("jail %s: %w", name, err)
	}
	j := cfg.Jail(name)
	if j == nil || j.Filter == nil {
		return false, nil
	}
	r.header("Use %11s jail : %s, filter: %s, basedir: %s", "failregex", name, j.Filter.Name, basedir)
	r.setup.kind = "jail"
	r.setup.name = name
	r.useFilter(j.Filter)
	return true, nil
}

// useFilter takes the regexes and options of a loaded filter. Options given
// on the command line win over the filter's, as in fail2ban-regex.
func (r *regexRun) useFilter(cf *config.Filter) {
	d := &r.setup.def
	d.Name = cf.Name
	d.PrefRegex = cf.PrefRegex
	d.FailRegex = append([]string(nil), cf.FailRegex...)
	d.IgnoreRegex = append([]string(nil), cf.IgnoreRegex...)
	if cf.MaxLines > 0 {
		r.setMaxLines(cf.MaxLines)
	}
	if cf.DatePattern != "" {
		r.setDatePattern(cf.DatePattern)
	}
	if r.o.journal == "" {
		r.setup.journalMatch = cf.JournalMatch
	}
}

func (r *regexRun) setMaxLines(n int) {
	if r.setup.maxlinesSet {
		return
	}
	r.setup.maxlinesSet = true
	r.setup.def.MaxLines = n
	r.header("Use         maxlines : %d", n)
}

func (r *regexRun) setDatePattern(p string) {
	if r.setup.datepatternSet {
		return
	}
	r.setup.datepatternSet = true
	r.setup.def.DatePattern = p
	r.header("Use      datepattern : %s : %s", p, datePatternName(p))
}

// readIgnoreRegex takes the IGNOREREGEX argument: always a literal regex.
func (r *regexRun) readIgnoreRegex(value string) {
	r.header("Use %11s line : %s", "ignoreregex", shortstr(value, 53))
	r.setup.def.IgnoreRegex = []string{value}
}

// shortstr cuts s to l characters, ending in "..." when cut.
func shortstr(s string, l int) string {
	rs := []rune(s)
	if len(rs) > l {
		return string(rs[:l-3]) + "..."
	}
	return s
}

// optionsRepr renders "[k=v, k2=v2]" the way Python prints the dict of
// filter options: {'k': 'v', 'k2': 'v2'}.
func optionsRepr(opts string) (string, error) {
	body := strings.TrimSpace(opts)
	if !strings.HasPrefix(body, "[") || !strings.HasSuffix(body, "]") {
		return "", fmt.Errorf("bad options %q", opts)
	}
	body = body[1 : len(body)-1]
	var parts []string
	for len(strings.TrimSpace(body)) > 0 {
		eq := strings.IndexByte(body, '=')
		if eq < 0 {
			return "", fmt.Errorf("bad options %q: expected name=value", opts)
		}
		k := strings.TrimSpace(body[:eq])
		rest := strings.TrimLeft(body[eq+1:], " \t")
		var v string
		if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
			end := strings.IndexByte(rest[1:], rest[0])
			if end < 0 {
				return "", fmt.Errorf("bad options %q: unterminated quote", opts)
			}
			v, rest = rest[1:1+end], rest[2+end:]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			v, rest = strings.TrimSpace(rest[:end]), rest[end:]
		}
		parts = append(parts, pyRepr(k)+": "+pyRepr(v))
		rest = strings.TrimLeft(rest, " \t")
		body = strings.TrimPrefix(rest, ",")
	}
	return "{" + strings.Join(parts, ", ") + "}", nil
}

// pyRepr quotes s as Python's repr() of a str does.
func pyRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == rune(q):
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte(q)
	return b.String()
}
