package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"warden/internal/config"
	"warden/internal/firewall"
)

// nativeKind is a native firewall backend that stands in for fail2ban actions of some action.d names.
type nativeKind struct {
	Name    string   // "nftables", "ipset", "firewalld"; logged, and what banaction = auto picks
	Actions []string // action.d base names it replaces, e.g. "nftables-multiport"
	// Spec builds a jail's firewall spec from one of those actions' parameters.
	Spec func(jail string, a *config.Action, svc *firewall.Services) (firewall.JailSpec, error)
	// Open creates the backend, once per server run, when the first jail needs it.
	Open func(ctx context.Context, o *Options) (firewall.Backend, error)
	// Available tells whether banaction = auto may pick it on this host.
	Available func(ctx context.Context, o *Options) bool
	// Absent, when set, tells cheaply that nothing of ours is installed
	// (nftables: no warden table). Setup then builds everything afresh, so
	// the ruleset after it and our own commits is known without reading
	// it back: the first heal round is spared (see unchangedHeal.trust).
	Absent func(ctx context.Context, o *Options) bool
}

// nativeKinds lists the native backends, in banaction = auto's order of preference.
func nativeKinds() []nativeKind {
	return []nativeKind{firewalldKind(), nftablesKind(), ipsetKind()}
}

// nativeKinds is the native kinds the server knows: nativeKinds() unless
// a test put stand-ins in Options.kinds.
func (o *Options) nativeKinds() []nativeKind {
	if o.kinds != nil {
		return o.kinds
	}
	return nativeKinds()
}

// nativeFor returns the native kind standing in for the action.d base name,
// or ok=false when the action runs through the shell.
func nativeFor(kinds []nativeKind, base string) (k nativeKind, ok bool) {
	for _, k := range kinds {
		if slices.Contains(k.Actions, base) {
			return k, true
		}
	}
	return nativeKind{}, false
}

// autoChoice is banaction = auto's pick, made once per Server, when the
// first jail asks for it.
type autoChoice struct {
	once sync.Once
	kind nativeKind
	err  error
}

// pick returns the first kind Available on this host, logging once which
// and why.
func (c *autoChoice) pick(o *Options) (nativeKind, error) {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), autoProbeTimeout)
		defer cancel()
		var skipped []string
		for _, k := range o.nativeKinds() {
			if k.Available(ctx, o) {
				c.kind = k
				o.Logger.Info("banaction auto: firewall backend chosen", "backend", k.Name,
					"why", autoReason(k.Name, skipped), "not_available", skipped)
				return
			}
			skipped = append(skipped, k.Name)
		}
		c.err = fmt.Errorf("banaction = auto: no firewall backend usable on this host (tried %s)", strings.Join(skipped, ", "))
		o.Logger.Error("banaction auto: no firewall backend usable", "tried", skipped)
	})
	return c.kind, c.err
}

// autoProbeTimeout bounds the Available probes of banaction = auto.
const autoProbeTimeout = 10 * time.Second

func autoReason(name string, skipped []string) string {
	var why string
	switch name {
	case "firewalld":
		why = "firewalld is running (owns its D-Bus name)"
	case "nftables":
		why = "nf_tables answers on netlink"
	case "ipset":
		why = "iptables and ipset are usable"
	default:
		why = name + " is available"
	}
	if len(skipped) > 0 {
		why += "; not available: " + strings.Join(skipped, ", ")
	}
	return why
}

// natives holds the native backends of one server run, one per kind, each
// opened when a generation first has a jail of that kind. Only Run's loop
// uses it.
type natives struct {
	kinds []nativeKind                // nativeKinds(), or stand-ins in tests
	open  map[string]firewall.Backend // by kind name
	order []string                    // kind names in opening order
}

// inUse is one native backend a generation uses, and its jails.
type inUse struct {
	kind  string
	b     firewall.Backend // as opened
	jails map[string]bool
	own   firewall.Backend // b seeing only the bans of jails
}

// setup opens the backends the jails need and installs each kind's jails;
// a kind open from an earlier generation that has no jails now is set up
// with none, which removes the rules and bans of the jails that left it
// (moved to another kind, or gone). It returns the backends with jails,
// each also wrapped so that it sees only the bans of its own jails.
func (n *natives) setup(ctx context.Context, o *Options, jails []*jailRun) ([]inUse, error) {
	if n.open == nil {
		n.open = map[string]firewall.Backend{}
	}
	specs := map[string][]firewall.JailSpec{}
	members := map[string]map[string]bool{}
	for _, j := range jails {
		if j.spec == nil {
			continue
		}
		specs[j.kind] = append(specs[j.kind], *j.spec)
		if members[j.kind] == nil {
			members[j.kind] = map[string]bool{}
		}
		members[j.kind][j.name] = true
	}
	// Kinds in preference order, so that logs and the ban manager's
	// backend order do not depend on map iteration.
	for _, k := range n.kinds {
		if _, need := specs[k.Name]; !need {
			continue
		}
		if _, ok := n.open[k.Name]; ok {
			continue
		}
		b, err := k.Open(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.Name, err)
		}
		n.open[k.Name] = b
		n.order = append(n.order, k.Name)
	}
	for name := range specs {
		if _, ok := n.open[name]; !ok {
			return nil, fmt.Errorf("no native backend %q", name)
		}
	}
	var out []inUse
	for _, name := range n.order {
		b := n.open[name]
		fresh := false
		for _, k := range n.kinds {
			if k.Name == name && k.Absent != nil && len(specs[name]) > 0 {
				fresh = k.Absent(ctx, o)
			}
		}
		if err := b.Setup(ctx, specs[name]); err != nil {
			return nil, fmt.Errorf("%s setup: %w", name, err)
		}
		if len(specs[name]) == 0 {
			continue
		}
		own := ownJails(b, members[name])
		if t, ok := own.(truster); ok && fresh {
			t.trust()
		}
		out = append(out, inUse{kind: name, b: b, jails: members[name], own: own})
		attrs := []any{"backend", name, "jails", len(specs[name])}
		if t, ok := b.(interface{ Table() string }); ok {
			attrs = append(attrs, "table", t.Table())
		}
		o.Logger.Info("firewall backend", attrs...)
	}
	return out, nil
}

// ownJails wraps b so that it sees only the bans of jails; a backend that
// heals keeps healing, on its own jails' bans.
func ownJails(b firewall.Backend, jails map[string]bool) firewall.Backend {
	jo := jailsOnly{Backend: b, jails: jails}
	if h, ok := b.(firewall.Healer); ok {
		if g := newGenReader(b); g != nil {
			return &unchangedHeal{healingJailsOnly: healingJailsOnly{jailsOnly: jo, h: h}, gen: g}
		}
		return healingJailsOnly{jailsOnly: jo, h: h}
	}
	return jo
}

// healingJailsOnly is jailsOnly for a backend that implements
// firewall.Healer.
type healingJailsOnly struct {
	jailsOnly
	h firewall.Healer
}

var _ firewall.Healer = healingJailsOnly{}

// Check implements firewall.Healer.
func (b healingJailsOnly) Check(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	return b.h.Check(ctx, b.keep(want))
}

// Heal implements firewall.Healer.
func (b healingJailsOnly) Heal(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	return b.h.Heal(ctx, b.keep(want))
}

// stop ends the run's use of the backends: unless keep, it removes
// everything each created (Teardown); then it releases them.
func (n *natives) stop(ctx context.Context, keep bool, log *slog.Logger) {
	for _, name := range n.order {
		b := n.open[name]
		switch {
		case keep:
			log.Info("firewall rules and bans left in place (keepbans)", "backend", name)
		default:
			if err := b.Teardown(ctx); err != nil {
				log.Error("removing firewall rules failed", "backend", name, "err", err)
			} else {
				log.Info("firewall rules and bans removed", "backend", name)
			}
		}
		if c, ok := b.(io.Closer); ok {
			c.Close()
		}
	}
	n.open, n.order = nil, nil
}

// specPorts fills in the spec's ports from the action's port parameter
// (names through svc) unless allPorts, and its protocols from the protocol
// parameter (comma- or space-separated): the part every native kind's Spec
// reads alike.
func specPorts(spec *firewall.JailSpec, a *config.Action, svc *firewall.Services, allPorts bool) error {
	p := a.Params
	if !allPorts {
		ports, err := firewall.ParsePorts(p["port"], svc)
		if err != nil {
			return fmt.Errorf("jail %s: action %s: port: %w", spec.Name, a.Name, err)
		}
		spec.Ports = ports
	}
	if proto := strings.TrimSpace(p["protocol"]); proto != "" {
		spec.Protocols = strings.FieldsFunc(proto, func(r rune) bool { return r == ',' || r == ' ' })
	}
	return nil
}

// nsenterPrefix is the command prefix that runs a tool inside
// Options.NetNS (a descriptor of this process), or nil when none is given.
func nsenterPrefix(o *Options) []string {
	if o.NetNS == 0 {
		return nil
	}
	return []string{"nsenter", fmt.Sprintf("--net=/proc/%d/fd/%d", os.Getpid(), o.NetNS)}
}
