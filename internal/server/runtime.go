package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"warden/internal/config"
	"warden/internal/control"
)

// Runtime options ("set JAIL OPTION VALUE") change a copy of the jail's
// configuration, as fail2ban-client's set does, and last until the next
// reload (which reads the files again). Three kinds:
//
//   - bantime and bantime.*: applied at once to the running ban manager;
//     nothing restarts.
//   - filter and log source options (failregex, datepattern, logpath,
//     maxlines, usedns, ...): the jail's filter and source are rebuilt and
//     the generation switched as a reload does; the jail keeps its failure
//     counts and every jail keeps its bans.
//   - failure-window and ignore options (maxretry, findtime, maxmatches,
//     ignoreip, ignoreself, ignorecommand): as above, and the running
//     tracker takes the new options (jail.Retune), keeping its failure
//     counts, as fail2ban changes them in place.
//
// What fail2ban itself cannot change at runtime, or warden does not
// support (actions, idle, ignorecache), answers a clear error.

// setKind says how a runtime option is applied.
type setKind int

const (
	setHot     setKind = iota // ban manager only
	setFilter                 // rebuild filter and source, keep the tracker
	setTracker                // as setFilter, and retune the kept tracker
)

// runtimeOption is one settable option: how it is applied, how it
// changes the configuration, and which "get" option reports the result.
type runtimeOption struct {
	kind  setKind
	apply func(c *config.Jail, vals []string) error
	get   string
}

// runtimeOptions are the jail options "set" changes.
func runtimeOptions() map[string]runtimeOption {
	str := func(set func(c *config.Jail, v string)) func(*config.Jail, []string) error {
		return func(c *config.Jail, vals []string) error { set(c, vals[0]); return nil }
	}
	num := func(name string, set func(c *config.Jail, n int)) func(*config.Jail, []string) error {
		return func(c *config.Jail, vals []string) error {
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 0 {
				return fmt.Errorf("%s %q: want a whole number", name, vals[0])
			}
			set(c, n)
			return nil
		}
	}
	opt := func(key string) func(*config.Jail, []string) error {
		return str(func(c *config.Jail, v string) { c.Options[key] = v })
	}
	return map[string]runtimeOption{
		"bantime": {setHot, func(c *config.Jail, vals []string) error {
			d, err := config.ParseTime(vals[0])
			if err != nil {
				return fmt.Errorf("bantime %q: %w", vals[0], err)
			}
			c.BanTime = d
			c.Options["bantime"] = vals[0]
			return nil
		}, "bantime"},
		"bantime.increment":    {setHot, boolOpt("bantime.increment", func(c *config.Jail, b bool) { c.BanTimeIncrement = b }), "bantime.increment"},
		"bantime.overalljails": {setHot, boolOpt("bantime.overalljails", func(c *config.Jail, b bool) { c.OverallJails = b }), "bantime.overalljails"},
		"bantime.maxtime":      {setHot, timeOpt("bantime.maxtime", func(c *config.Jail, v string, d int64) { c.BanTimeMaxTime = secDur(d) }), "bantime.maxtime"},
		"bantime.rndtime":      {setHot, timeOpt("bantime.rndtime", func(c *config.Jail, v string, d int64) { c.BanTimeRndTime = secDur(d) }), "bantime.rndtime"},
		"bantime.factor":       {setHot, opt("bantime.factor"), "bantime.factor"},
		"bantime.formula":      {setHot, opt("bantime.formula"), "bantime.formula"},
		"bantime.multipliers": {setHot, func(c *config.Jail, vals []string) error {
			c.Options["bantime.multipliers"] = strings.Join(vals, " ")
			return nil
		}, "bantime.multipliers"},

		"addfailregex":   {setFilter, str(func(c *config.Jail, v string) { c.Filter.FailRegex = append(c.Filter.FailRegex, v) }), "failregex"},
		"delfailregex":   {setFilter, delIndex("failregex", func(c *config.Jail) *[]string { return &c.Filter.FailRegex }), "failregex"},
		"addignoreregex": {setFilter, str(func(c *config.Jail, v string) { c.Filter.IgnoreRegex = append(c.Filter.IgnoreRegex, v) }), "ignoreregex"},
		"delignoreregex": {setFilter, delIndex("ignoreregex", func(c *config.Jail) *[]string { return &c.Filter.IgnoreRegex }), "ignoreregex"},
		"prefregex":      {setFilter, str(func(c *config.Jail, v string) { c.Filter.PrefRegex = v }), "prefregex"},
		"datepattern":    {setFilter, str(func(c *config.Jail, v string) { c.Filter.DatePattern = v }), "datepattern"},
		"maxlines":       {setFilter, num("maxlines", func(c *config.Jail, n int) { c.Filter.MaxLines = n }), "maxlines"},
		"logtimezone":    {setFilter, opt("logtimezone"), "logtimezone"},
		"logencoding":    {setFilter, opt("logencoding"), "logencoding"},
		"usedns": {setFilter, func(c *config.Jail, vals []string) error {
			switch v := strings.ToLower(vals[0]); v {
			case "yes", "warn", "no", "raw":
				c.UseDNS = v
				return nil
			}
			return fmt.Errorf("usedns %q: want yes, warn, no or raw", vals[0])
		}, "usedns"},
		"addlogpath":      {setFilter, addLogPath, "logpath"},
		"dellogpath":      {setFilter, delLogPath, "logpath"},
		"addjournalmatch": {setFilter, journalMatch(true), "journalmatch"},
		"deljournalmatch": {setFilter, journalMatch(false), "journalmatch"},

		"maxretry":   {setTracker, num("maxretry", func(c *config.Jail, n int) { c.MaxRetry = n }), "maxretry"},
		"maxmatches": {setTracker, num("maxmatches", func(c *config.Jail, n int) { c.MaxMatches = n }), "maxmatches"},
		"findtime": {setTracker, func(c *config.Jail, vals []string) error {
			d, err := config.ParseTime(vals[0])
			if err != nil || d <= 0 {
				return fmt.Errorf("findtime %q: want a positive time", vals[0])
			}
			c.FindTime = d
			return nil
		}, "findtime"},
		"ignoreself": {setTracker, boolOpt("ignoreself", func(c *config.Jail, b bool) { c.IgnoreSelf = b }), "ignoreself"},
		"addignoreip": {setTracker, func(c *config.Jail, vals []string) error {
			for _, v := range vals {
				if !slices.Contains(c.IgnoreIP, v) {
					c.IgnoreIP = append(c.IgnoreIP, v)
				}
			}
			return nil
		}, "ignoreip"},
		"delignoreip": {setTracker, func(c *config.Jail, vals []string) error {
			c.IgnoreIP = slices.DeleteFunc(c.IgnoreIP, func(e string) bool { return slices.Contains(vals, e) })
			return nil
		}, "ignoreip"},
		"ignorecommand": {setTracker, opt("ignorecommand"), "ignorecommand"},
	}
}

// notAtRuntime explains the settable words of fail2ban's protocol that
// warden does not change on a running jail.
var notAtRuntime = map[string]string{
	"idle":        "idle is not supported: stop the jail instead (stop JAIL)",
	"ignorecache": "ignorecache cannot be changed at runtime: set it in jail.local and reload",
	"addaction":   "actions cannot be changed at runtime: edit the jail's action in jail.local and reload",
	"delaction":   "actions cannot be changed at runtime: edit the jail's action in jail.local and reload",
	"action":      "action properties cannot be changed at runtime: edit the action in jail.local and reload",
	"attempt":     "attempt is not supported: append the line to the jail's log instead",
}

func secDur(s int64) time.Duration { return time.Duration(s) * time.Second }

func boolOpt(name string, set func(c *config.Jail, b bool)) func(*config.Jail, []string) error {
	return func(c *config.Jail, vals []string) error {
		b, err := parseBool(vals[0])
		if err != nil {
			return fmt.Errorf("%s %q: %w", name, vals[0], err)
		}
		set(c, b)
		c.Options[name] = strconv.FormatBool(b)
		return nil
	}
}

func timeOpt(name string, set func(c *config.Jail, v string, secs int64)) func(*config.Jail, []string) error {
	return func(c *config.Jail, vals []string) error {
		d, err := config.ParseTime(vals[0])
		if err != nil || d < 0 {
			return fmt.Errorf("%s %q: want a time (1h, 30m, 3600)", name, vals[0])
		}
		set(c, vals[0], int64(d.Seconds()))
		c.Options[name] = vals[0]
		return nil
	}
}

// delIndex removes entry N (from 0, as fail2ban numbers them) of a list.
func delIndex(name string, list func(c *config.Jail) *[]string) func(*config.Jail, []string) error {
	return func(c *config.Jail, vals []string) error {
		l := list(c)
		i, err := strconv.Atoi(vals[0])
		if err != nil || i < 0 || i >= len(*l) {
			return fmt.Errorf("%s has no entry %s (%d entries, numbered from 0)", name, vals[0], len(*l))
		}
		*l = slices.Delete(*l, i, i+1)
		return nil
	}
}

// addLogPath is "addlogpath PATH [tail|head]": fail2ban reads an added
// file from its start unless told "tail".
func addLogPath(c *config.Jail, vals []string) error {
	if isJournal(c) {
		return errors.New("addlogpath: the jail reads the journal, not files")
	}
	path, mark := vals[0], "head"
	if len(vals) == 2 {
		mark = strings.ToLower(vals[1])
		if mark != "head" && mark != "tail" {
			return fmt.Errorf("addlogpath: file option %q must be head or tail", vals[1])
		}
	}
	if slices.Contains(c.LogPath, path) {
		return nil
	}
	c.LogPath = append(c.LogPath, path)
	c.LogFiles = append(c.LogFiles, config.LogFile{Path: path, Tail: mark == "tail"})
	line := path
	if mark == "head" {
		line += " head"
	}
	c.Options["logpath"] = strings.TrimLeft(c.Options["logpath"]+"\n"+line, "\n")
	return nil
}

func delLogPath(c *config.Jail, vals []string) error {
	path := vals[0]
	if !slices.Contains(c.LogPath, path) {
		return fmt.Errorf("dellogpath: %s is not a logpath of the jail", path)
	}
	c.LogPath = slices.DeleteFunc(c.LogPath, func(p string) bool { return p == path })
	c.LogFiles = slices.DeleteFunc(c.LogFiles, func(f config.LogFile) bool { return f.Path == path })
	var keep []string
	for _, line := range strings.Split(c.Options["logpath"], "\n") {
		w := strings.Fields(line)
		if len(w) > 0 && w[0] == path {
			continue
		}
		keep = append(keep, line)
	}
	c.Options["logpath"] = strings.Join(keep, "\n")
	return nil
}

func isJournal(c *config.Jail) bool {
	return strings.HasPrefix(strings.TrimSpace(c.Backend), "systemd")
}

// journalMatch adds or removes one journalmatch group (its words joined).
func journalMatch(add bool) func(*config.Jail, []string) error {
	return func(c *config.Jail, vals []string) error {
		if !isJournal(c) {
			return errors.New("journalmatch: the jail reads files, not the journal")
		}
		m := strings.Join(vals, " ")
		if add {
			c.Filter.JournalMatch = append(c.Filter.JournalMatch, m)
			return nil
		}
		if !slices.Contains(c.Filter.JournalMatch, m) {
			return fmt.Errorf("deljournalmatch: %q is not a journalmatch of the jail", m)
		}
		c.Filter.JournalMatch = slices.DeleteFunc(c.Filter.JournalMatch, func(e string) bool { return e == m })
		return nil
	}
}

// cloneJail copies what a runtime option may change, so that the running
// generation's configuration is never written.
func cloneJail(c *config.Jail) *config.Jail {
	n := *c
	n.Options = maps.Clone(c.Options)
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	n.LogPath = slices.Clone(c.LogPath)
	n.LogFiles = slices.Clone(c.LogFiles)
	n.IgnoreIP = slices.Clone(c.IgnoreIP)
	if c.Filter != nil {
		f := *c.Filter
		f.FailRegex = slices.Clone(f.FailRegex)
		f.IgnoreRegex = slices.Clone(f.IgnoreRegex)
		f.JournalMatch = slices.Clone(f.JournalMatch)
		n.Filter = &f
	}
	return &n
}

// setJailOption changes a runtime option of jail name and returns the
// option's new value, as "get" reports it.
func (s *Server) setJailOption(ctx context.Context, name, option string, vals []string) (string, error) {
	if why, ok := notAtRuntime[option]; ok {
		return "", fmt.Errorf("%w: set %s %s: %s", control.ErrNotSupported, name, option, why)
	}
	ro, ok := runtimeOptions()[option]
	if !ok {
		return "", fmt.Errorf("%w: %q for jail %s", control.ErrUnknownOption, option, name)
	}
	if len(vals) == 0 {
		return "", fmt.Errorf("%w: set %s %s needs a value", control.ErrBadArgs, name, option)
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.view()
	old, ok := cur.byName[name]
	if !ok {
		return "", fmt.Errorf("%w: %s", control.ErrUnknownJail, name)
	}
	nc := cloneJail(old.cfg)
	if err := ro.apply(nc, vals); err != nil {
		return "", fmt.Errorf("%w: set %s %s: %w", control.ErrBadArgs, name, option, err)
	}
	cfg := replaceJail(cur.cfg, nc)

	if ro.kind == setHot {
		bt, err := banTimeConfig(nc)
		if err != nil {
			return "", fmt.Errorf("%w: set %s %s: %w", control.ErrBadArgs, name, option, err)
		}
		nj := *old
		nj.cfg, nj.banTime = nc, bt
		if err := cur.mgr.SetBanTime(name, bt); err != nil {
			return "", err
		}
		jails := replaceRun(cur.jails, &nj)
		s.genMu.Lock()
		s.cfg, s.jails, s.byName = cfg, jails, index(jails)
		s.genMu.Unlock()
		s.log.Info("jail option set", "jail", name, "option", option, "value", strings.Join(vals, " "))
		return ro.get, nil
	}

	nj, err := buildJail(nc, &s.opts, buildEnv{svc: s.servicesLoader(), auto: &s.auto, clock: old.clock})
	if err == nil {
		err = webhooksOf(old.actions).attach(nj, &s.opts)
	}
	if err != nil {
		return "", fmt.Errorf("%w: set %s %s: %w", control.ErrBadArgs, name, option, err)
	}
	// Failure counts stay. The tracker takes the new options only once
	// the new generation is in place: a failed switch leaves it as it was.
	fresh := nj.tracker
	nj.tracker = old.tracker
	stopped := maps.Clone(s.stoppedJails)
	c := &change{cfg: cfg, jails: replaceRun(cur.jails, nj), stopped: stopped, done: make(chan error, 1)}
	if err := s.apply(ctx, c); err != nil {
		return "", err
	}
	if ro.kind == setTracker {
		old.tracker.Retune(fresh)
	}
	s.log.Info("jail option set", "jail", name, "option", option, "value", strings.Join(vals, " "))
	return ro.get, nil
}

// replaceJail is cfg with jail nc in place of the jail of the same name.
func replaceJail(cfg *config.Config, nc *config.Jail) *config.Config {
	out := *cfg
	out.Jails = slices.Clone(cfg.Jails)
	for i, j := range out.Jails {
		if j.Name == nc.Name {
			out.Jails[i] = nc
		}
	}
	return &out
}

func replaceRun(js []*jailRun, nj *jailRun) []*jailRun {
	out := slices.Clone(js)
	for i, j := range out {
		if j.name == nj.name {
			out[i] = nj
		}
	}
	return out
}

// banTimeExtra reports a bantime.* option of a jail's configuration.
func banTimeExtra(c *config.Jail, option string) (any, bool) {
	switch option {
	case "bantime.increment":
		return c.BanTimeIncrement, true
	case "bantime.overalljails":
		return c.OverallJails, true
	case "bantime.maxtime":
		if c.BanTimeMaxTime == 0 {
			return nil, true
		}
		return secs(c.BanTimeMaxTime), true
	case "bantime.rndtime":
		if c.BanTimeRndTime == 0 {
			return nil, true
		}
		return secs(c.BanTimeRndTime), true
	case "bantime.factor", "bantime.formula", "bantime.multipliers":
		v, ok := c.Options[option]
		if !ok || strings.TrimSpace(v) == "" {
			return nil, true
		}
		return v, true
	}
	return nil, false
}
