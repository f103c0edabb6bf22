package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"

	"warden/internal/config"
	"warden/internal/firewall"
	"warden/internal/firewall/firewalld"
)

// firewalldKind is the native firewalld backend (D-Bus, runtime
// configuration), standing in for fail2ban's firewallcmd-* actions: every
// one of them blocks the jail's ports for the banned addresses, which the
// backend does with a kernel set per jail and a firewalld direct rule.
// firewallcmd-rich-logging's log rule is not reproduced.
func firewalldKind() nativeKind {
	return nativeKind{
		Name: "firewalld",
		Actions: []string{
			"firewallcmd-new", "firewallcmd-multiport", "firewallcmd-allports", "firewallcmd-ipset",
			"firewallcmd-rich-rules", "firewallcmd-rich-logging",
		},
		Spec: firewalldSpec,
		Open: func(_ context.Context, o *Options) (firewall.Backend, error) {
			return firewalld.New(firewalldOptions(o))
		},
		Available: firewalldRunning,
	}
}

// firewalldOptions builds the backend's options: the system bus from the
// environment (DBUS_SYSTEM_BUS_ADDRESS), the ipset tool as fail2ban.conf's
// [Definition] ipset names it, run inside Options.NetNS when one is given.
func firewalldOptions(o *Options) firewalld.Options {
	opts := firewalld.Options{Logger: o.Logger}
	tool := "ipset"
	if o.Config != nil {
		if v := strings.TrimSpace(o.Config.Server.Options["ipset"]); v != "" {
			tool = v
		}
	}
	opts.IPSet = append(nsenterPrefix(o), tool)
	return opts
}

// firewalldRunning tells whether firewalld owns its name on the system bus.
func firewalldRunning(ctx context.Context, _ *Options) bool {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return false
	}
	defer conn.Close()
	return firewalld.Running(ctx, conn)
}

// firewalldSpec turns a firewallcmd-* action's parameters into the native
// backend's jail: ports (names through svc) unless the action blocks all
// ports, protocols, chain (INPUT_direct or FORWARD_direct, as the actions
// name them) and block type (REJECT or DROP, or the rich rules' reject and
// drop).
func firewalldSpec(jailName string, a *config.Action, svc *firewall.Services) (firewall.JailSpec, error) {
	p := a.Params
	spec := firewall.JailSpec{Name: jailName}
	base := actionBase(a)
	allPorts := base == "firewallcmd-allports" || strings.TrimSpace(p["type"]) == "allports" ||
		base == "firewallcmd-ipset" && strings.Contains(p["actiontype"], "allports")
	if err := specPorts(&spec, a, svc, allPorts); err != nil {
		return spec, err
	}
	switch c := strings.TrimSpace(p["chain"]); strings.ToUpper(c) {
	case "", "INPUT", "INPUT_DIRECT":
		spec.Chain = firewall.ChainInput
	case "FORWARD", "FORWARD_DIRECT":
		spec.Chain = firewall.ChainForward
	default:
		return spec, fmt.Errorf("jail %s: action %s: chain %q: %w", jailName, a.Name, c, firewall.ErrInvalidJail)
	}
	block := p["blocktype"]
	if strings.HasPrefix(base, "firewallcmd-rich") {
		block = p["rich-blocktype"]
	}
	spec.BlockType = firewall.BlockReject
	if strings.Contains(strings.ToLower(block), "drop") {
		spec.BlockType = firewall.BlockDrop
	}
	return spec, nil
}

// Changed implements firewall.Watcher for a wrapped backend that watches
// its firewall (firewalld's Reloaded), so that the ban manager heals it at
// once; for other backends it returns nil, a channel that never fires.
func (b healingJailsOnly) Changed() <-chan struct{} {
	if w, ok := b.Backend.(firewall.Watcher); ok {
		return w.Changed()
	}
	return nil
}

var _ firewall.Watcher = healingJailsOnly{}

// shellReloadWatch watches firewalld for the shell actions: when firewalld
// runs on the system bus and a jail has an action with an actioncheck
// (fail2ban's firewallcmd-* run as shell actions, whose direct rules a
// `firewall-cmd --reload` drops), its Reloaded signal has the ban manager
// run those checks at once rather than at the next heal round. It returns
// nil (nothing to watch) or a watch the caller closes.
func shellReloadWatch(ctx context.Context, o *Options, jails []*jailRun) *firewalld.Watch {
	checked := false
	for _, j := range jails {
		for _, a := range j.actions {
			checked = checked || a.HasCheck()
		}
	}
	if !checked {
		return nil
	}
	w, err := firewalld.WatchRunning(ctx, o.Logger)
	if err != nil {
		if !errors.Is(err, firewalld.ErrNotRunning) {
			o.Logger.Debug("shell actions: firewalld not watched", "err", err)
		}
		return nil
	}
	o.Logger.Debug("shell actions: firewalld reloads trigger their actioncheck")
	return w
}
