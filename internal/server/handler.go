package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"warden/internal/ban"
	"warden/internal/control"
)

// handler answers the control socket for a running Server.
type handler struct{ s *Server }

var _ control.Handler = handler{}

func (h handler) jail(name string) (*jailRun, error) {
	j, ok := h.s.view().byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", control.ErrUnknownJail, name)
	}
	return j, nil
}

func notSupported(what string) error {
	return fmt.Errorf("%w yet: %s", control.ErrNotSupported, what)
}

func (h handler) Ping(context.Context) error { return nil }

func (h handler) Version(context.Context) (string, error) { return h.s.opts.Version, nil }

func (h handler) Status(ctx context.Context) (control.ServerStatus, error) {
	names := h.s.Jails()
	sort.Strings(names)
	return control.ServerStatus{Jails: names, Mail: h.s.opts.mail.status(ctx),
		Webhooks: h.s.WebhookStats()}, nil
}

// files lists the files a jail's logpath globs match now.
func (j *jailRun) currentFiles() []string {
	var out []string
	for _, f := range j.files {
		m, err := filepath.Glob(f.Pattern)
		if err != nil || len(m) == 0 {
			continue
		}
		out = append(out, m...)
	}
	return out
}

func (h handler) JailStatus(_ context.Context, name string, _ control.Flavor) (control.JailStatus, error) {
	j, err := h.jail(name)
	if err != nil {
		return control.JailStatus{}, err
	}
	ts := j.tracker.Stats()
	bs, err := h.s.view().mgr.Stats(name)
	if err != nil {
		return control.JailStatus{}, fmt.Errorf("%w: %w", control.ErrInternal, err)
	}
	banned, _ := h.s.view().mgr.Banned(name)
	js := control.JailStatus{
		Jail:            name,
		CurrentlyFailed: ts.Tracked,
		TotalFailed:     int(ts.Failures),
		CurrentlyBanned: bs.Banned,
		TotalBanned:     int(bs.TotalBanned),
		BannedIPs:       control.Targets(banned),
	}
	if j.journal {
		js.Journal = true
		js.JournalMatches = j.match
	} else {
		js.Files = j.currentFiles()
	}
	return js, nil
}

func (h handler) Stats(context.Context) ([]control.JailStats, error) {
	var out []control.JailStats
	v := h.s.view()
	for _, j := range v.jails {
		ts := j.tracker.Stats()
		bs, _ := v.mgr.Stats(j.name)
		backend := j.cfg.Backend
		out = append(out, control.JailStats{
			Jail: j.name, Backend: backend,
			CurrentlyFailed: ts.Tracked, TotalFailed: int(ts.Failures),
			CurrentlyBanned: bs.Banned, TotalBanned: int(bs.TotalBanned),
		})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Jail < out[b].Jail })
	return out, nil
}

// Banned lists each jail's bans; given ips, the bans overlapping them, so
// an address inside a prefix ban is answered with that network.
func (h handler) Banned(_ context.Context, ips []netip.Prefix) ([]control.JailBans, error) {
	v := h.s.view()
	jailNames := names(v.jails)
	sort.Strings(jailNames)
	out := make([]control.JailBans, 0, len(jailNames))
	for _, n := range jailNames {
		jb := control.JailBans{Jail: n, IPs: []control.Target{}}
		if len(ips) == 0 {
			b, _ := v.mgr.Banned(n)
			jb.IPs = control.Targets(b)
		} else {
			var found []netip.Prefix
			seen := map[netip.Prefix]bool{}
			for _, q := range ips {
				found = appendNew(found, seen, overlapping(v.mgr, n, q)...)
			}
			jb.IPs = append(jb.IPs, control.Targets(found)...)
		}
		out = append(out, jb)
	}
	return out, nil
}

// banIPConcurrency bounds the addresses of one banip command in flight at
// once: the ban manager applies requests that queue up together in one
// firewall batch, so a long list is not one batch per address.
const banIPConcurrency = 512

func (h handler) BanIP(ctx context.Context, name string, ips []netip.Prefix) (int, error) {
	if _, err := h.jail(name); err != nil {
		return 0, err
	}
	mgr := h.s.view().mgr
	var n atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(banIPConcurrency)
	for _, ip := range ips {
		g.Go(func() error {
			r, err := mgr.BanIP(gctx, name, ip)
			if err != nil {
				return fmt.Errorf("ban %s: %w", control.TargetOf(ip), err)
			}
			if r.Banned {
				n.Add(1)
			}
			return nil
		})
	}
	err := g.Wait()
	return int(n.Load()), err
}

// UnbanIP lifts the bans in the jail overlapping ips: an address inside a
// prefix ban lifts the prefix ban, a network lifts its own ban, a wider
// one holding it and the bans inside it. Nothing is lifted when
// reportAbsent finds an entry of ips that no ban overlaps.
func (h handler) UnbanIP(ctx context.Context, name string, ips []netip.Prefix, reportAbsent bool) (int, error) {
	if _, err := h.jail(name); err != nil {
		return 0, err
	}
	mgr := h.s.view().mgr
	var lift []netip.Prefix
	seen := map[netip.Prefix]bool{}
	for _, q := range ips {
		o := overlapping(mgr, name, q)
		if len(o) == 0 && reportAbsent {
			return 0, fmt.Errorf("%w: %s is not banned", control.ErrBadArgs, control.TargetOf(q))
		}
		lift = appendNew(lift, seen, o...)
	}
	if len(lift) == 0 {
		return 0, nil
	}
	n, err := mgr.Unban(ctx, name, lift)
	if errors.Is(err, ban.ErrNotBanned) {
		return 0, nil
	}
	return n, err
}

// Unban lifts, in every jail, the bans overlapping ips (as UnbanIP) and
// the exact ones, which also forgets their history.
func (h handler) Unban(ctx context.Context, ips []netip.Prefix, all bool) (int, error) {
	v := h.s.view()
	if all {
		return v.mgr.UnbanAll(ctx, "")
	}
	seen := map[netip.Prefix]bool{}
	lift := appendNew(nil, seen, ips...)
	for _, j := range v.jails {
		for _, q := range ips {
			lift = appendNew(lift, seen, overlapping(v.mgr, j.name, q)...)
		}
	}
	n, err := v.mgr.Unban(ctx, "", lift)
	if errors.Is(err, ban.ErrNotBanned) {
		return 0, nil
	}
	return n, err
}

func secs(d interface{ Seconds() float64 }) int64 { return int64(d.Seconds()) }

func (h handler) Get(_ context.Context, name, option string, args []string) (any, error) {
	srv := h.s.view().cfg.Server
	if name == "" {
		switch option {
		case "loglevel":
			return srv.LogLevel, nil
		case "logtarget":
			return srv.LogTarget, nil
		case "syslogsocket":
			return srv.SyslogSocket, nil
		case "dbfile":
			return h.s.dbPath, nil
		case "dbpurgeage":
			return secs(srv.DBPurgeAge), nil
		case "dbmaxmatches":
			return srv.DBMaxMatches, nil
		}
		return nil, notSupported("get " + option)
	}
	j, err := h.jail(name)
	if err != nil {
		return nil, err
	}
	c := j.cfg
	switch option {
	case "logpath":
		return j.currentFiles(), nil
	case "journalmatch":
		return j.match, nil
	case "ignoreip":
		return c.IgnoreIP, nil
	case "ignoreself":
		return c.IgnoreSelf, nil
	case "ignorecommand":
		return c.Options["ignorecommand"], nil
	case "usedns":
		return c.UseDNS, nil
	case "maxretry":
		return c.MaxRetry, nil
	case "maxmatches":
		return c.MaxMatches, nil
	case "maxlines":
		return c.Filter.MaxLines, nil
	case "findtime":
		return secs(c.FindTime), nil
	case "bantime":
		bt, err := h.s.view().mgr.BanTime(name)
		if err != nil {
			return nil, err
		}
		if bt.BanTime < 0 {
			return int64(-1), nil
		}
		return secs(bt.BanTime), nil
	case "datepattern":
		if c.Filter.DatePattern == "" {
			return nil, nil
		}
		return c.Filter.DatePattern, nil
	case "logencoding":
		if v := c.Options["logencoding"]; v != "" {
			return v, nil
		}
		return "auto", nil
	case "logtimezone":
		if v := c.Options["logtimezone"]; v != "" {
			return v, nil
		}
		return nil, nil
	case "failregex":
		return c.Filter.FailRegex, nil
	case "ignoreregex":
		return c.Filter.IgnoreRegex, nil
	case "prefregex":
		return c.Filter.PrefRegex, nil
	case "actions":
		var out []string
		for _, a := range c.Actions {
			out = append(out, a.Name)
		}
		return out, nil
	case "banned":
		if len(args) == 0 {
			b, _ := h.s.view().mgr.Banned(name)
			return prefixStrings(b), nil
		}
		// as fail2ban's getBanned: 1 or 0 for one address, a list of
		// them for several (fail2ban-client prints 1, or [1, 0])
		mgr := h.s.view().mgr
		out := make([]int, 0, len(args))
		for _, a := range args {
			q, err := control.ParseTarget(a)
			if err != nil {
				return nil, err
			}
			out = append(out, boolInt(len(overlapping(mgr, name, q)) > 0))
		}
		if len(out) == 1 {
			return out[0], nil
		}
		return out, nil
	case "banip":
		b, _ := h.s.view().mgr.Banned(name)
		return prefixStrings(b), nil
	}
	if v, ok := banTimeExtra(c, option); ok {
		return v, nil
	}
	return nil, notSupported("get " + name + " " + option)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (h handler) Set(ctx context.Context, name, option string, values []string) (any, error) {
	if name != "" {
		if _, err := h.jail(name); err != nil {
			return nil, err
		}
	}
	if name != "" {
		get, err := h.s.setJailOption(ctx, name, option, values)
		if err != nil {
			return nil, err
		}
		return h.Get(ctx, name, get, nil)
	}
	return nil, notSupported("set " + strings.TrimSpace(name+" "+option))
}

func (h handler) Reload(ctx context.Context, opts control.ReloadOptions) error {
	return h.s.Reload(ctx, opts)
}

func (h handler) Start(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("%w: the server is running", control.ErrBadArgs)
	}
	return h.s.StartJail(ctx, name)
}

func (h handler) Stop(ctx context.Context, name string) error {
	if name != "" {
		return h.s.StopJail(ctx, name)
	}
	h.s.Stop()
	return nil
}

func (h handler) FlushLogs(context.Context) (string, error) {
	if h.s.opts.FlushLogs == nil {
		return "flushed", nil
	}
	return h.s.opts.FlushLogs()
}
