package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// jail resolves one jail section; it returns nil, nil for a disabled jail.
func (l *loader) jail(name string) (*Jail, error) {
	sec := l.jails.section(name)
	first := newOmap()
	for _, o := range []struct{ name, def string }{{"enabled", "False"}, {"backend", "auto"}, {"filter", ""}} {
		v, _, _, err := l.jailOption(name, o.name, strp(o.def))
		if err != nil {
			return nil, l.jailErr(name, err)
		}
		first.Set(o.name, v)
	}
	enabled, _ := first.Get("enabled")
	if enabled != "True" && !l.opts.ForceEnable {
		return nil, nil
	}
	backend, _ := first.Get("backend")
	j := &Jail{Name: name, Pos: sec.Pos, Enabled: enabled == "True", Options: map[string]string{}}
	switched, skip, err := l.noLogs(name, backend)
	if err != nil {
		return nil, l.jailErr(name, err)
	}
	if skip {
		l.warn(sec.Pos, "jail [%s] skipped: no log file matches its logpath (skip_if_nologs)", name)
		return nil, nil
	}
	if switched {
		backend = "systemd"
		l.warn(sec.Pos, "jail [%s]: no log file matches its logpath, reading the systemd journal instead (systemd_if_nologs)", name)
	}

	// The filter is read first: its resolved values become known/x
	// options of the jail, for failregex = %(known/failregex)s.
	var flt *defReader
	var fltName string
	if spec, _ := first.Get("filter"); spec != "" {
		_, fpos, _ := l.jails.getPos(name, "filter")
		fname, args, err := parseSpec(spec)
		if err != nil {
			return nil, l.jailErr(name, fmt.Errorf("%s: filter = %q: %w", fpos, clip(spec), err))
		}
		fltName = fname
		st, err := l.store(path.Join("filter.d", fname))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, l.jailErr(name, fmt.Errorf("%s: %w: %q (no filter.d/%s.conf or .local)", fpos, ErrMissingFilter, fname, fname))
		}
		if err != nil {
			return nil, l.jailErr(name, err)
		}
		flt = newDefReader(st, path.Join("filter.d", fname), filterOpts, args)
		applyAutoOptions(flt, backend)
		if err := flt.getOptions(first, true); err != nil {
			return nil, l.jailErr(name, err)
		}
		comb, err := flt.combined()
		if err != nil {
			return nil, l.jailErr(name, err)
		}
		for _, k := range comb.Keys() {
			if !strings.HasPrefix(k, "known/") && k != "__name__" {
				v, _ := comb.Get(k)
				sec.set("known/"+k, value{Text: v, Pos: Pos{File: flt.firstFile()}})
			}
		}
	} else {
		l.warn(sec.Pos, "jail [%s] has no filter", name)
	}

	opts := newOmap()
	for _, k := range jailOpts {
		var def *string
		switch k {
		case "enabled":
			def = strp("False")
		case "backend":
			def = strp("auto")
		case "filter", "action":
			def = strp("")
		}
		v, _, ok, err := l.jailOption(name, k, def)
		if err != nil {
			return nil, l.jailErr(name, err)
		}
		if ok {
			opts.Set(k, v)
		}
	}
	if err := l.fillJail(j, opts); err != nil {
		return nil, l.jailErr(name, err)
	}
	if switched {
		j.Backend = backend
		opts.Set("backend", backend)
	}
	for _, k := range append(l.jails.defaults.Keys(), sec.Keys()...) {
		if strings.HasPrefix(k, "known/") {
			continue
		}
		if v, ok := opts.Get(k); ok {
			j.Options[k] = v
			continue
		}
		if _, done := j.Options[k]; done {
			continue
		}
		v, pos, err := l.jails.get(name, k, nil)
		if err != nil {
			if sec.has(k) {
				l.warn(pos, "jail [%s]: %v", name, err)
			}
			continue
		}
		j.Options[k] = v
	}
	for _, k := range opts.Keys() {
		j.Options[k], _ = opts.Get(k)
	}
	j.SkipIfNoLogs = asBool(j.Options["skip_if_nologs"])
	j.SystemdIfNoLogs = asBool(j.Options["systemd_if_nologs"])

	if flt != nil {
		if err := flt.getOptions(opts, false); err != nil {
			return nil, l.jailErr(name, err)
		}
		f, err := buildFilter(flt, fltName, opts)
		if err != nil {
			return nil, l.jailErr(name, err)
		}
		j.Filter = f
	}

	actions, _ := opts.Get("action")
	_, apos, _ := l.jails.getPos(name, "action")
	for _, spec := range splitSpecs(actions) {
		a, err := l.action(name, spec, opts, apos)
		if err != nil {
			return nil, l.jailErr(name, err)
		}
		j.Actions = append(j.Actions, a)
	}
	if len(j.Actions) == 0 {
		l.warn(sec.Pos, "jail [%s] has no actions", name)
	}
	return j, nil
}

func (l *loader) jailErr(name string, err error) error {
	return fmt.Errorf("jail %q: %w", name, err)
}

// getPos tells where opt of sec (or DEFAULT) was written.
func (st *store) getPos(sec, opt string) (value, Pos, bool) {
	v, ok := st.raw(sec, opt)
	if !ok {
		if s := st.section(sec); s != nil {
			return v, s.Pos, false
		}
	}
	return v, v.Pos, ok
}

// applyAutoOptions sets the filter's logtype from the backend unless the
// jail or the filter chose one.
func applyAutoOptions(d *defReader, backend string) {
	if v, _ := d.initOpts.Get("logtype"); v != "" {
		return
	}
	if d.st.section("Definition").has("logtype") {
		return
	}
	lt := "file"
	if strings.HasPrefix(backend, "systemd") {
		lt = "journal"
	}
	d.initOpts.Set("logtype", lt)
}

// fillJail sets the typed fields from the jail's options.
func (l *loader) fillJail(j *Jail, opts *omap) error {
	get := func(k string) string { v, _ := opts.Get(k); return v }
	pos := func(k string) Pos { _, p, _ := l.jails.getPos(j.Name, k); return p }
	j.Backend = get("backend")
	j.MaxRetry = 3
	if v := get("maxretry"); v != "" {
		j.MaxRetry, _ = strconv.Atoi(v)
	}
	// Unset, fail2ban's failure manager keeps 5 (jail.conf makes it
	// maxretry's value).
	j.MaxMatches = 5
	if v := get("maxmatches"); v != "" {
		j.MaxMatches, _ = strconv.Atoi(v)
	}
	times := []struct {
		key string
		dst *time.Duration
		def time.Duration
	}{
		{"findtime", &j.FindTime, 10 * time.Minute},
		{"bantime", &j.BanTime, 10 * time.Minute},
		{"bantime.maxtime", &j.BanTimeMaxTime, 0},
		{"bantime.rndtime", &j.BanTimeRndTime, 0},
	}
	for _, t := range times {
		*t.dst = t.def
		v, ok := opts.Get(t.key)
		if !ok || strings.TrimSpace(v) == "" && t.def == 0 {
			continue
		}
		d, err := ParseTime(v)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", pos(t.key), t.key, err)
		}
		*t.dst = d
	}
	j.IgnoreIP = splitWords(get("ignoreip"))
	j.IgnoreSelf = get("ignoreself") != "False"
	j.UseDNS = get("usedns")
	j.BanTimeIncrement = get("bantime.increment") == "True"
	j.OverallJails = get("bantime.overalljails") == "True"
	j.LogFiles = logFiles(get("logpath"))
	for _, lf := range j.LogFiles {
		j.LogPath = append(j.LogPath, lf.Path)
	}
	return nil
}

// logFiles parses a logpath value: one path a line, each optionally
// followed by a "head" or "tail" marker.
func logFiles(logpath string) []LogFile {
	var out []LogFile
	for _, line := range strings.Split(logpath, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		lf := LogFile{Path: line}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			switch line[i+1:] {
			case "tail":
				lf = LogFile{Path: strings.TrimSpace(line[:i]), Tail: true}
			case "head":
				lf = LogFile{Path: strings.TrimSpace(line[:i])}
			}
		}
		out = append(out, lf)
	}
	return out
}

// splitWords splits on blanks, commas and newlines, dropping empty words.
func splitWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' })
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// buildFilter turns a read filter into a Filter; jail-level filter options
// (failregex = ... in the jail) are added on top as fail2ban does.
func buildFilter(d *defReader, name string, jail *omap) (*Filter, error) {
	comb, err := d.combined()
	if err != nil {
		return nil, err
	}
	f := &Filter{Name: name, File: d.firstFile(), Options: comb.toMap()}
	apply := func(src *omap) error {
		for _, k := range filterOpts {
			v, ok := src.Get(k)
			if !ok {
				continue
			}
			switch k {
			case "prefregex":
				f.PrefRegex = v
			case "failregex":
				f.FailRegex = append(f.FailRegex, lines(v)...)
			case "ignoreregex":
				f.IgnoreRegex = append(f.IgnoreRegex, lines(v)...)
			case "maxlines":
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					return fmt.Errorf("%s: %w: maxlines = %q is not a whole number", f.File, ErrBadValue, v)
				}
				f.MaxLines = n
			case "datepattern":
				f.DatePattern = v
			case "journalmatch":
				f.JournalMatch = append(f.JournalMatch, lines(v)...)
			}
		}
		return nil
	}
	if err := apply(comb); err != nil {
		return nil, err
	}
	if jail != nil {
		if err := apply(jail); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// AutoAction is the action name of "banaction = auto": without an
// action.d/auto.conf it loads as an Action with the jail's arguments as
// Params and no commands, for the daemon to map onto the firewall backend
// it detects.
const AutoAction = "auto"

// action resolves one entry of a jail's action list.
func (l *loader) action(jail, spec string, jailOpts *omap, at Pos) (*Action, error) {
	name, args, err := parseSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: action %q: %w", at, clip(spec), err)
	}
	if strings.HasSuffix(name, ".py") {
		actname, ok := args.Get("actname")
		if !ok {
			actname = strings.TrimSuffix(name, ".py")
		}
		params := args.toMap()
		delete(params, "actname")
		return &Action{Name: actname, File: path.Join("action.d", name), Python: true, Params: params}, nil
	}
	n, ok := args.Get("name")
	if !ok {
		n = jail
		args.Set("name", n)
	}
	actname, ok := args.Get("actname")
	if !ok {
		actname = name
		if n != jail {
			if strings.HasPrefix(n, jail) {
				actname += n[len(jail):]
			} else {
				actname += "-" + n
			}
		}
		args.Set("actname", actname)
	}
	base := path.Join("action.d", name)
	st, err := l.store(base)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && name == AutoAction {
			// banaction = auto: no action.d file; the daemon picks a
			// native firewall backend and reads the jail's arguments.
			params := args.toMap()
			return &Action{Name: actname, File: base, Params: params, Commands: map[string]string{}, Options: params}, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: %q (no %s.conf or .local)", at, ErrMissingAction, name, base)
		}
		return nil, err
	}
	d := newDefReader(st, base, actionOpts, args)
	if err := d.getOptions(jailOpts, false); err != nil {
		return nil, err
	}
	comb, err := d.combined(runtimeActionTags...)
	if err != nil {
		return nil, err
	}
	a := &Action{Name: actname, File: d.firstFile(), Params: map[string]string{}, Commands: map[string]string{}, Options: comb.toMap()}
	isCmd := map[string]bool{}
	for _, k := range actionOpts {
		isCmd[k] = true
	}
	for _, k := range comb.Keys() {
		base := k
		if m := condKeyRE.FindStringSubmatch(k); m != nil {
			base = m[1]
		}
		if isCmd[base] {
			a.Commands[k], _ = comb.Get(k)
		}
	}
	a.NoRestored = asBool(a.Commands["norestored"])
	a.StartOnDemand = asBool(a.Commands["actionstart_on_demand"])
	a.RepairOnUnban = asBool(a.Commands["actionrepair_on_unban"])
	for _, k := range d.initOpts.Keys() {
		if !isCmd[k] && !strings.HasPrefix(k, "known/") {
			a.Params[k], _ = d.initOpts.Get(k)
		}
	}
	return a, nil
}

// noLogs applies fail2ban 1.1's skip_if_nologs and systemd_if_nologs to a
// jail with backend auto whose logpath matches no file: systemd_if_nologs
// switches it to the journal, else skip_if_nologs skips it.
func (l *loader) noLogs(name, backend string) (switched, skip bool, err error) {
	if strings.ToLower(strings.TrimSpace(backend)) != "auto" {
		return false, false, nil
	}
	flag := func(k string) (bool, error) {
		v, _, ok, err := l.jailOption(name, k, nil)
		return ok && asBool(v), err
	}
	sysd, err := flag("systemd_if_nologs")
	if err != nil {
		return false, false, err
	}
	skip, err = flag("skip_if_nologs")
	if err != nil || !sysd && !skip {
		return false, false, err
	}
	logpath, _, _, err := l.jailOption(name, "logpath", strp(""))
	if err != nil {
		return false, false, err
	}
	glob := l.opts.Glob
	if glob == nil {
		glob = filepath.Glob
	}
	for _, lf := range logFiles(logpath) {
		if m, _ := glob(lf.Path); len(m) > 0 {
			return false, false, nil
		}
	}
	return sysd, !sysd && skip, nil
}
