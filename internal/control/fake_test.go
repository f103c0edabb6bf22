package control

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// fakeJail is the in-memory state of one jail in fakeHandler.
type fakeJail struct {
	backend  string
	running  bool
	failed   int
	totFail  int
	totBans  int
	files    []string
	journal  []string
	bans     []Target
	ignoreip []string
	opts     map[string]string
}

// fakeHandler is a small in-memory daemon for protocol and CLI tests.
type fakeHandler struct {
	mu       sync.Mutex
	jails    map[string]*fakeJail
	server   map[string]string
	reloads  []ReloadOptions
	shutdown bool
	flushed  int
}

var _ Handler = (*fakeHandler)(nil)

func newFakeHandler() *fakeHandler {
	return &fakeHandler{
		jails: map[string]*fakeJail{
			"sshd": {
				backend: "auto", running: true, failed: 2, totFail: 17, totBans: 5,
				files:    []string{"/var/log/auth.log", "/var/log/secure"},
				bans:     []Target{AddrTarget(netip.MustParseAddr("192.0.2.7")), AddrTarget(netip.MustParseAddr("2001:db8::1"))},
				ignoreip: []string{"127.0.0.1/8"},
				opts:     map[string]string{"maxretry": "5", "bantime": "600", "findtime": "600"},
			},
			"nginx": {
				backend: "systemd", running: true, totFail: 3,
				journal: []string{"_SYSTEMD_UNIT=nginx.service _COMM=nginx"},
				opts:    map[string]string{"maxretry": "3", "bantime": "3600", "findtime": "600"},
			},
		},
		server: map[string]string{"loglevel": "INFO", "logtarget": "/var/log/warden.log"},
	}
}

func (f *fakeHandler) jail(name string) (*fakeJail, error) {
	j, ok := f.jails[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownJail, name)
	}
	return j, nil
}

func (f *fakeHandler) names() []string {
	var ns []string
	for n, j := range f.jails {
		if j.running {
			ns = append(ns, n)
		}
	}
	sort.Strings(ns)
	return ns
}

func (f *fakeHandler) Ping(context.Context) error { return nil }

func (f *fakeHandler) Version(context.Context) (string, error) { return "0.1.0-test", nil }

func (f *fakeHandler) Status(context.Context) (ServerStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return ServerStatus{Jails: f.names()}, nil
}

func (f *fakeHandler) JailStatus(_ context.Context, name string, flavor Flavor) (JailStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "boom" {
		panic("fake handler panics on jail boom")
	}
	j, err := f.jail(name)
	if err != nil {
		return JailStatus{}, err
	}
	js := JailStatus{
		Jail: name, CurrentlyFailed: j.failed, TotalFailed: j.totFail,
		Files: slices.Clone(j.files), Journal: j.journal != nil, JournalMatches: slices.Clone(j.journal),
		CurrentlyBanned: len(j.bans), TotalBanned: j.totBans,
	}
	if flavor != FlavorShort {
		js.BannedIPs = slices.Clone(j.bans)
	}
	return js, nil
}

func (f *fakeHandler) Stats(context.Context) ([]JailStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []JailStats
	for _, n := range f.names() {
		j := f.jails[n]
		out = append(out, JailStats{Jail: n, Backend: j.backend, CurrentlyFailed: j.failed,
			TotalFailed: j.totFail, CurrentlyBanned: len(j.bans), TotalBanned: j.totBans})
	}
	return out, nil
}

func (f *fakeHandler) Banned(_ context.Context, ips []netip.Prefix) ([]JailBans, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []JailBans
	for _, n := range f.names() {
		jb := JailBans{Jail: n, IPs: []Target{}}
		for _, a := range f.jails[n].bans {
			if len(ips) == 0 || slices.ContainsFunc(ips, a.Overlaps) {
				jb.IPs = append(jb.IPs, a)
			}
		}
		out = append(out, jb)
	}
	return out, nil
}

func (f *fakeHandler) BanIP(_ context.Context, name string, ips []netip.Prefix) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.jail(name)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ips {
		if a := TargetOf(p); !slices.Contains(j.bans, a) {
			j.bans = append(j.bans, a)
			j.totBans++
			n++
		}
	}
	return n, nil
}

func (f *fakeHandler) UnbanIP(_ context.Context, name string, ips []netip.Prefix, reportAbsent bool) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.jail(name)
	if err != nil {
		return 0, err
	}
	return unbanFrom(j, ips, reportAbsent)
}

// unbanFrom lifts the bans overlapping ips, as the daemon does.
func unbanFrom(j *fakeJail, ips []netip.Prefix, reportAbsent bool) (int, error) {
	n := 0
	for _, p := range ips {
		before := len(j.bans)
		j.bans = slices.DeleteFunc(j.bans, func(t Target) bool { return t.Overlaps(p) })
		if len(j.bans) == before && reportAbsent {
			return n, fmt.Errorf("%w: %s is not banned", ErrBadArgs, targetWord(p))
		}
		n += before - len(j.bans)
	}
	return n, nil
}

func (f *fakeHandler) Unban(_ context.Context, ips []netip.Prefix, all bool) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, j := range f.jails {
		if all {
			n += len(j.bans)
			j.bans = nil
			continue
		}
		k, _ := unbanFrom(j, ips, false)
		n += k
	}
	return n, nil
}

func (f *fakeHandler) Get(_ context.Context, name, option string, args []string) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "" {
		v, ok := f.server[option]
		if !ok {
			return nil, nil // e.g. dbfile unset: database disabled
		}
		return v, nil
	}
	j, err := f.jail(name)
	if err != nil {
		return nil, err
	}
	switch option {
	case "ignoreip":
		return slices.Clone(j.ignoreip), nil
	case "logpath":
		return slices.Clone(j.files), nil
	case "journalmatch":
		return slices.Clone(j.journal), nil
	case "banip":
		out := make([]string, len(j.bans))
		for i, a := range j.bans {
			out[i] = a.String()
		}
		return out, nil
	case "banned":
		if len(args) == 1 {
			p, _ := ParseTarget(args[0])
			return boolInt(slices.ContainsFunc(j.bans, func(t Target) bool { return t.Overlaps(p) })), nil
		}
		out := make([]int, len(args))
		for i, w := range args {
			p, _ := ParseTarget(w)
			out[i] = boolInt(slices.ContainsFunc(j.bans, func(t Target) bool { return t.Overlaps(p) }))
		}
		return out, nil
	case "maxretry", "bantime", "findtime":
		return strconv.Atoi(j.opts[option])
	case "actions":
		return []string{"nftables", "mail"}, nil
	case "failregex":
		return []string{`^Failed password for .* from <HOST>`, `^Invalid user .* from <HOST>`}, nil
	}
	return nil, fmt.Errorf("%w %q for jail %s", ErrUnknownOption, option, name)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *fakeHandler) Set(ctx context.Context, name, option string, values []string) (any, error) {
	f.mu.Lock()
	if name == "" {
		f.server[option] = values[0]
		f.mu.Unlock()
		return values[0], nil
	}
	j, err := f.jail(name)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	switch option {
	case "addignoreip":
		j.ignoreip = append(j.ignoreip, values...)
	case "delignoreip":
		for _, v := range values {
			if i := slices.Index(j.ignoreip, v); i >= 0 {
				j.ignoreip = slices.Delete(j.ignoreip, i, i+1)
			}
		}
	case "maxretry", "bantime", "findtime":
		j.opts[option] = values[0]
	default:
		f.mu.Unlock()
		return nil, fmt.Errorf("%w %q for jail %s", ErrUnknownOption, option, name)
	}
	f.mu.Unlock()
	if option == "addignoreip" || option == "delignoreip" {
		option = "ignoreip"
	}
	return f.Get(ctx, name, option, nil)
}

func (f *fakeHandler) Reload(_ context.Context, opts ReloadOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if opts.Jail != "" && !opts.IfExists {
		if _, err := f.jail(opts.Jail); err != nil {
			return err
		}
	}
	f.reloads = append(f.reloads, opts)
	return nil
}

func (f *fakeHandler) Start(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.jail(name)
	if err != nil {
		return err
	}
	j.running = true
	return nil
}

func (f *fakeHandler) Stop(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "" {
		f.shutdown = true
		return nil
	}
	j, err := f.jail(name)
	if err != nil {
		return err
	}
	j.running = false
	return nil
}

func (f *fakeHandler) FlushLogs(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushed++
	return "rolled over", nil
}
