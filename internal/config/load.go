package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
)

var condKeyRE = condSectionRE

// Option lists as fail2ban's readers know them, in its order.
var (
	filterOpts = []string{"usedns", "prefregex", "ignoreregex", "failregex", "maxlines", "datepattern", "journalmatch"}
	actionOpts = []string{"actionstart", "actionstart_on_demand", "actionstop", "actionflush", "actionreload",
		"actioncheck", "actionrepair", "actionrepair_on_unban", "actionban", "actionprolong", "actionreban",
		"actionunban", "norestored"}
	jailOpts = append([]string{"enabled", "backend", "maxretry", "maxmatches", "findtime", "bantime",
		"bantime.increment", "bantime.factor", "bantime.formula", "bantime.multipliers", "bantime.maxtime",
		"bantime.rndtime", "bantime.overalljails", "ignorecommand", "ignoreself", "ignoreip", "ignorecache",
		"filter", "logtimezone", "logencoding", "logpath", "action"}, filterOpts...)
	// extraJailOpts are documented jail options read elsewhere (fail2ban
	// 1.1, or by the server directly).
	extraJailOpts = []string{"skip_if_nologs", "systemd_if_nologs", "logtype", "mode", "banaction",
		"banaction_allports", "port", "protocol", "chain", "polltime",
		// warden's own: prefix bans, the whois server of mail and webhooks.
		"banprefix4", "banprefix6", "banprefix.count", "whois"}
	jailOptTypes = map[string]string{
		"enabled": "bool", "maxretry": "int", "maxmatches": "int", "bantime.increment": "bool",
		"bantime.overalljails": "bool", "ignoreself": "bool", "maxlines": "int",
	}
	// runtimeActionTags are replaced when an action runs, never at load.
	runtimeActionTags = []string{"matches", "ipmatches", "ipjailmatches", "timeout", "bantime"}
)

const (
	defaultRoot    = "/etc/fail2ban"
	defaultVersion = "1.0.2"
)

// loader is the state of one Load call.
type loader struct {
	r       *reader
	opts    Options
	jails   *store
	stores  map[string]*store // filter.d/x, action.d/x
	warns   []Warning
	refs    map[string]bool // option names referenced by %(name)s anywhere in jail.*
	defKeys map[string]bool
}

// Load reads the tree in fsys (rooted at a fail2ban configuration
// directory). On error the returned Config, when not nil, holds the jails
// that did resolve, for diagnostics; it must not be put to use.
func Load(fsys fs.FS, opts Options) (*Config, error) {
	if opts.Root == "" {
		opts.Root = defaultRoot
	}
	if opts.Version == "" {
		opts.Version = defaultVersion
	}
	l := &loader{r: newReader(fsys, opts.Root), opts: opts, stores: map[string]*store{}}
	cfg := &Config{Root: opts.Root}
	srv, err := l.server()
	if err != nil {
		return nil, err
	}
	cfg.Server = srv
	l.jails, err = l.r.load("jail")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", path.Join(opts.Root, "jail.conf"), ErrNoJailConf)
		}
		return nil, err
	}
	cfg.Files = l.jails.files
	l.jails.defaults.set("fail2ban_version", value{Text: opts.Version})
	l.jails.defaults.set("fail2ban_confpath", value{Text: strings.TrimRight(opts.Root, "/")})
	l.collectRefs()

	names := l.jails.Sections()
	if opts.Jail != "" {
		if l.jails.section(opts.Jail) == nil || opts.Jail == "INCLUDES" {
			return nil, fmt.Errorf("%w %q (not in %s)", ErrUnknownJail, opts.Jail, strings.Join(l.jails.files, ", "))
		}
		names = []string{opts.Jail}
	}
	l.checkOptions(defaultSection)
	var errs []error
	for _, name := range names {
		if name == "INCLUDES" {
			continue
		}
		l.checkOptions(name)
		j, err := l.jail(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if j != nil {
			cfg.Jails = append(cfg.Jails, j)
		}
	}
	cfg.Warnings = l.warns
	return cfg, errors.Join(errs...)
}

func (l *loader) warn(pos Pos, format string, args ...any) {
	l.warns = append(l.warns, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

var refRE = regexp.MustCompile(`%\(([^)]+)\)s`)

// collectRefs notes every name used in a %(name)s reference, so options
// that exist only to be referenced are not reported as unknown.
func (l *loader) collectRefs() {
	l.refs = map[string]bool{}
	l.defKeys = map[string]bool{}
	add := func(s *section) {
		for _, k := range s.Keys() {
			v, _ := s.get(k)
			for _, m := range refRE.FindAllStringSubmatch(v.Text, -1) {
				n := strings.ToLower(m[1])
				l.refs[n] = true
				if i := strings.IndexByte(n, '/'); i >= 0 {
					l.refs[n[i+1:]] = true
				}
			}
		}
	}
	add(l.jails.defaults)
	// [DEFAULT] options a .conf file defines are the stock helpers
	// (banaction, destemail, ...); ones only .local files add are checked
	// like jail options.
	for _, name := range l.jails.files {
		if f, ok := l.r.cache[name]; ok && strings.HasSuffix(name, ".conf") {
			for _, k := range f.Defaults.Keys() {
				l.defKeys[k] = true
			}
		}
	}
	for _, n := range l.jails.order {
		add(l.jails.sections[n])
	}
}

// checkOptions warns about options of a jail section (or [DEFAULT]) that
// fail2ban would not use.
func (l *loader) checkOptions(name string) {
	known := map[string]bool{}
	for _, k := range jailOpts {
		known[k] = true
	}
	for _, k := range extraJailOpts {
		known[k] = true
	}
	s := l.jails.section(name)
	if name == defaultSection {
		s = l.jails.defaults
	}
	for _, k := range s.Keys() {
		base := k
		if m := condKeyRE.FindStringSubmatch(k); m != nil {
			base = m[1]
		}
		if known[base] || l.defKeys[base] || l.refs[base] || strings.HasPrefix(base, "known/") {
			continue
		}
		v, _ := s.get(k)
		if v.Pos.File == "" {
			continue // set by the loader (fail2ban_version, ...)
		}
		l.warn(v.Pos, "unknown option %q in [%s]", k, name)
	}
}

// store returns the merged layer for base (filter.d/x, action.d/x), read
// once per Load.
func (l *loader) store(base string) (*store, error) {
	if st, ok := l.stores[base]; ok {
		return st, nil
	}
	st, err := l.r.load(base)
	if err != nil {
		return nil, err
	}
	l.stores[base] = st
	return st, nil
}

// jailOption reads one option of a jail with fail2ban's conversions; ok is
// false when it is not set and has no default.
func (l *loader) jailOption(jail, name string, def *string) (string, Pos, bool, error) {
	v, pos, err := l.jails.get(jail, name, nil)
	if err != nil {
		if isMissing(err) {
			if def != nil {
				return *def, pos, true, nil
			}
			return "", pos, false, nil
		}
		return "", pos, false, err
	}
	switch jailOptTypes[name] {
	case "bool":
		v = pyBool(asBool(v))
	case "int":
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(v, "_", "")))
		if err != nil {
			return "", pos, false, fmt.Errorf("%s: %w: %s = %q is not a whole number", pos, ErrBadValue, name, v)
		}
		v = strconv.Itoa(n)
	}
	return v, pos, true, nil
}

func asBool(v string) bool {
	switch strings.ToLower(v) {
	case "1", "on", "true", "yes":
		return true
	}
	return false
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func strp(s string) *string { return &s }
