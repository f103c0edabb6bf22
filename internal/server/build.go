package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"warden/internal/action"
	"warden/internal/ban"
	"warden/internal/config"
	"warden/internal/datetime"
	"warden/internal/filter"
	"warden/internal/firewall"
	"warden/internal/jail"
	"warden/internal/source"
)

// jailRun is one enabled jail as the server runs it. Everything in it is
// built by buildJail and read-only afterwards, except flt (used by the
// jail's pipeline goroutine alone) and tracker (safe for concurrent use).
type jailRun struct {
	cfg     *config.Jail
	name    string
	log     *slog.Logger
	flt     *filter.Filter
	tracker *jail.Jail
	banTime jail.BanTimeConfig
	// spec is the native firewall jail, installed by the native backend
	// named kind; nil when no action is native.
	spec    *firewall.JailSpec
	kind    string
	actions []ban.Action // shell and Go actions, in configuration order
	journal bool
	match   []string // journalmatch lines (journal jails)
	files   []source.FileSpec
	mode    source.Mode
	// clock is what the filter and the tracker read (see batchClock)
	clock *batchClock
	// evidence is set when an action of some jail reads matched lines
	// or fields: the tracker then keeps them for every line. Otherwise
	// only the database's history reads them, and the tracker keeps
	// them for lines handled one by one but not for a flood's batches
	// (see handleBatch).
	evidence bool
}

// filterDefinition maps a loaded filter.d definition and its jail onto what
// the filter package compiles.
func filterDefinition(j *config.Jail) filter.Definition {
	f := j.Filter
	return filter.Definition{
		Name:        f.Name,
		PrefRegex:   f.PrefRegex,
		FailRegex:   append([]string(nil), f.FailRegex...),
		IgnoreRegex: append([]string(nil), f.IgnoreRegex...),
		MaxLines:    f.MaxLines,
		DatePattern: f.DatePattern,
		UseDNS:      j.UseDNS,
	}
}

// actionBase is an action's action.d file name without directory and
// extension ("nftables-multiport").
func actionBase(a *config.Action) string {
	b := path.Base(a.File)
	for _, ext := range []string{".conf", ".local"} {
		b = strings.TrimSuffix(b, ext)
	}
	if b == "" || b == "." {
		return a.Name
	}
	return b
}

// prefixOpts are warden's prefix-ban jail options (beyond fail2ban):
// banprefix4 and banprefix6 widen each ban to the covering network of that
// length (a /64 for an IPv6 host, say); banprefix.count = true counts
// failures per such network instead of per address.
type prefixOpts struct {
	v4, v6 int
	count  bool
}

func banPrefixes(j *config.Jail) (prefixOpts, error) {
	var p prefixOpts
	for _, o := range []struct {
		name string
		max  int
		dst  *int
	}{{"banprefix4", 32, &p.v4}, {"banprefix6", 128, &p.v6}} {
		v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(j.Options[o.name]), "/"))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > o.max {
			return p, fmt.Errorf("%s: jail %s: %s = %q: want a prefix length from 1 to %d", j.Pos, j.Name, o.name, j.Options[o.name], o.max)
		}
		*o.dst = n
	}
	if v := strings.TrimSpace(j.Options["banprefix.count"]); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return p, fmt.Errorf("%s: jail %s: banprefix.count = %q: %w", j.Pos, j.Name, v, err)
		}
		p.count = b
	}
	return p, nil
}

// banTimeConfig reads bantime and the bantime.* options of a jail.
func banTimeConfig(j *config.Jail) (jail.BanTimeConfig, error) {
	bt := jail.BanTimeConfig{
		BanTime:      j.BanTime,
		Increment:    j.BanTimeIncrement,
		MaxTime:      j.BanTimeMaxTime,
		RndTime:      j.BanTimeRndTime,
		OverallJails: j.OverallJails,
	}
	if j.BanTime < 0 {
		bt.BanTime = jail.Forever
	}
	where := func(opt string, err error) error {
		return fmt.Errorf("%s: jail %s: %s: %w", j.Pos, j.Name, opt, err)
	}
	if v := strings.TrimSpace(j.Options["bantime.factor"]); v != "" {
		f, err := jail.ParseFactor(v)
		if err != nil {
			return bt, where("bantime.factor", err)
		}
		bt.Factor = f
	}
	if v := strings.TrimSpace(j.Options["bantime.formula"]); v != "" {
		f, err := jail.ParseFormula(v)
		if err != nil {
			return bt, where("bantime.formula", err)
		}
		bt.Formula = f
	}
	if v := strings.TrimSpace(j.Options["bantime.multipliers"]); v != "" {
		m, err := jail.ParseMultipliers(v)
		if err != nil {
			return bt, where("bantime.multipliers", err)
		}
		bt.Multipliers = m
	}
	return bt, nil
}

// selfAddrs lists the host's own addresses for ignoreself.
func selfAddrs(context.Context) ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("interface addresses: %w", err)
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}

// buildJail compiles one jail's filter, tracker and actions, and decides
// whether its firewall part is native.
func buildJail(j *config.Jail, o *Options, env buildEnv) (*jailRun, error) {
	if j.Filter == nil {
		return nil, fmt.Errorf("%s: jail %s: no filter", j.Pos, j.Name)
	}
	log := o.Logger.With("jail", j.Name)
	jr := &jailRun{cfg: j, name: j.Name, log: log, clock: env.clock}
	if jr.clock == nil {
		jr.clock = newBatchClock(o.now)
	}

	fo := filter.Options{Now: jr.clock.Now}
	if tz := strings.TrimSpace(j.Options["logtimezone"]); tz != "" {
		loc, err := datetime.ParseZone(tz)
		if err != nil {
			return nil, fmt.Errorf("%s: jail %s: logtimezone: %w", j.Pos, j.Name, err)
		}
		fo.Location = loc
	}
	if u := strings.ToLower(j.UseDNS); u == "yes" || u == "warn" {
		fo.Resolve = func(host string) []netip.Addr {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			as, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil
			}
			return as
		}
	}
	flt, err := filter.Compile(filterDefinition(j), fo)
	if err != nil {
		return nil, fmt.Errorf("%s: jail %s: filter %s: %w", j.Pos, j.Name, j.Filter.Name, err)
	}
	jr.flt = flt

	ign, err := jail.NewIgnoreList(jail.IgnoreConfig{
		Entries:   j.IgnoreIP,
		Self:      j.IgnoreSelf,
		SelfAddrs: selfAddrs,
		Resolver:  net.DefaultResolver,
		Command:   j.Options["ignorecommand"],
	})
	if err != nil {
		return nil, fmt.Errorf("%s: jail %s: ignoreip: %w", j.Pos, j.Name, err)
	}
	pre, err := banPrefixes(j)
	if err != nil {
		return nil, err
	}
	jr.tracker = jail.New(jail.Config{
		Name:          j.Name,
		MaxRetry:      j.MaxRetry,
		FindTime:      j.FindTime,
		MaxMatches:    j.MaxMatches,
		Ignore:        ign,
		Clock:         jr.clock.Now,
		Logger:        o.Logger,
		BanPrefix4:    pre.v4,
		BanPrefix6:    pre.v6,
		CountByPrefix: pre.count,
	})
	if jr.banTime, err = banTimeConfig(j); err != nil {
		return nil, err
	}

	for _, a := range j.Actions {
		k, ok := nativeFor(o.nativeKinds(), actionBase(a))
		ok = ok && !o.ShellActions
		if isAuto(a, o.ShellActions) {
			// banaction = auto runs natively, on the backend detected.
			if k, err = env.auto.pick(o); err != nil {
				return nil, fmt.Errorf("%s: jail %s: %w", j.Pos, j.Name, err)
			}
			ok = true
			a = autoParams(a)
		}
		if ok {
			if jr.spec != nil {
				log.Warn("second firewall action ignored: a jail has one native rule set", "action", a.Name, "backend", jr.kind)
				continue
			}
			s, err := env.svc()
			if err != nil {
				return nil, err
			}
			spec, err := k.Spec(j.Name, a, s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", j.Pos, err)
			}
			jr.spec, jr.kind = &spec, k.Name
			continue
		}
		if !o.ShellActions {
			act, ok, err := notifyAction(a, j, o)
			if err != nil {
				return nil, fmt.Errorf("%s: jail %s: action %s: %w", j.Pos, j.Name, a.Name, err)
			}
			if ok {
				jr.actions = append(jr.actions, act)
				continue
			}
		}
		if a.Python {
			log.Warn("python action not supported, skipped", "action", a.Name)
			continue
		}
		act, err := action.New(a, action.Options{Logger: o.Logger, Jail: j.Name, BanTime: j.BanTime})
		if err != nil {
			return nil, fmt.Errorf("%s: jail %s: action %s: %w", j.Pos, j.Name, a.Name, err)
		}
		jr.actions = append(jr.actions, act)
	}

	if strings.HasPrefix(strings.TrimSpace(j.Backend), "systemd") {
		jr.journal = true
		jr.match = j.Filter.JournalMatch
		if _, err := source.ParseJournalMatch(jr.match); err != nil {
			return nil, fmt.Errorf("%s: jail %s: journalmatch: %w", j.Pos, j.Name, err)
		}
	} else {
		mode, err := source.FileMode(strings.TrimSpace(j.Backend))
		if err != nil {
			return nil, fmt.Errorf("%s: jail %s: backend: %w", j.Pos, j.Name, err)
		}
		jr.mode = mode
		head := headPaths(j.Options["logpath"])
		for _, lf := range j.LogFiles {
			jr.files = append(jr.files, source.FileSpec{Pattern: lf.Path, Head: head[lf.Path]})
		}
	}
	return jr, nil
}

// autoParams is a banaction = auto action without the arguments that
// still hold an action-level tag: jail.conf passes chain="<known/chain>",
// which only an action.d file resolves; the backend's own default applies.
func autoParams(a *config.Action) *config.Action {
	out := *a
	out.Params = map[string]string{}
	for k, v := range a.Params {
		if !strings.Contains(v, "<") {
			out.Params[k] = v
		}
	}
	if actionBase(a) == autoAllPorts {
		out.Params["type"] = "allports"
	}
	return &out
}

// autoAllPorts is the action.d name of banaction = auto for jails that
// block every port (the embedded defaults' banaction_allports).
const autoAllPorts = "auto-allports"

// isAuto tells whether a is banaction = auto: an "auto" action without an
// action.d file (no commands), or the embedded defaults' auto.conf and
// auto-allports.conf, whose commands are only for shell runs.
func isAuto(a *config.Action, shell bool) bool {
	switch actionBase(a) {
	case config.AutoAction, autoAllPorts:
		return len(a.Commands) == 0 || !shell
	}
	return false
}

// buildEnv is what buildJail shares with the other jails of a build: the
// services file, read once when first needed, and banaction = auto's
// choice, made once per server.
type buildEnv struct {
	svc  func() (*firewall.Services, error)
	auto *autoChoice
	// clock, when set, is the jail's clock to keep: a runtime `set` keeps
	// the old tracker, which reads it (nil: a new one)
	clock *batchClock
}

// headPaths returns the logpath globs marked "head" (read from their start);
// the others start at their end, as in fail2ban.
func headPaths(logpath string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(logpath, "\n") {
		line = strings.TrimSpace(line)
		if p, ok := strings.CutSuffix(line, " head"); ok {
			out[strings.TrimSpace(p)] = true
		}
	}
	return out
}
