package server

import (
	"context"
	"fmt"
	"io"
	"slices"

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
}

// nativeKinds lists the native backends, in banaction = auto's order of preference.
func nativeKinds() []nativeKind {
	return []nativeKind{
		// firewalldKind(),
		nftablesKind(),
		// ipsetKind(),
	}
}

// nativeFor returns the native kind standing in for the action.d base name,
// or ok=false when the action runs through the shell.
func nativeFor(base string) (k nativeKind, ok bool) {
	for _, k := range nativeKinds() {
		if slices.Contains(k.Actions, base) {
			return k, true
		}
	}
	return nativeKind{}, false
}

// kindByName returns the native kind called name.
func kindByName(name string) (nativeKind, bool) {
	for _, k := range nativeKinds() {
		if k.Name == name {
			return k, true
		}
	}
	return nativeKind{}, false
}

// natives holds the native backends of one server run, one per kind, each
// opened when a generation first has a jail of that kind. Only Run's loop
// uses it.
type natives struct {
	kinds []nativeKind                // nativeKinds(), or stand-ins in tests
	open  map[string]firewall.Backend // by kind name
	order []string                    // kind names in opening order
}

// setup opens the backends the jails need and installs each kind's jails;
// a kind open from an earlier generation that has no jails now is set up
// with none, which removes the rules and bans of the jails that left it
// (moved to another kind, or gone). It returns each backend wrapped so that
// it sees only the bans of its own jails.
func (n *natives) setup(ctx context.Context, o *Options, jails []*jailRun) ([]firewall.Backend, error) {
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
	var out []firewall.Backend
	for _, name := range n.order {
		b := n.open[name]
		if err := b.Setup(ctx, specs[name]); err != nil {
			return nil, fmt.Errorf("%s setup: %w", name, err)
		}
		if len(specs[name]) == 0 {
			continue
		}
		out = append(out, jailsOnly{Backend: b, jails: members[name]})
		attrs := []any{"backend", name, "jails", len(specs[name])}
		if t, ok := b.(interface{ Table() string }); ok {
			attrs = append(attrs, "table", t.Table())
		}
		o.Logger.Info("firewall backend", attrs...)
	}
	return out, nil
}

// close releases every backend opened (the firewall state stays).
func (n *natives) close() {
	for _, name := range n.order {
		if c, ok := n.open[name].(io.Closer); ok {
			c.Close()
		}
	}
}
