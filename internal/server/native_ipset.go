package server

import (
	"context"
	"fmt"
	"strings"

	"warden/internal/config"
	"warden/internal/firewall"
	"warden/internal/firewall/ipset"
)

// ipsetKind is the native iptables + ipset backend, standing in for
// fail2ban's iptables actions (with or without ipset: the native backend
// always matches a set, which blocks the same addresses).
func ipsetKind() nativeKind {
	return nativeKind{
		Name: "ipset",
		Actions: []string{
			"iptables-ipset-proto4", "iptables-ipset-proto6", "iptables-ipset-proto6-allports",
			"iptables-ipset", "iptables-multiport", "iptables-allports", "iptables",
		},
		Spec: ipsetSpec,
		Open: func(_ context.Context, o *Options) (firewall.Backend, error) {
			return ipset.New(ipsetOptions(o))
		},
		Available: func(ctx context.Context, o *Options) bool {
			b, err := ipset.New(ipsetOptions(o))
			return err == nil && b.Available(ctx)
		},
	}
}

// ipsetOptions builds the backend's options: the tools may be named in
// fail2ban.conf's [Definition] (iptables = iptables-legacy, ip6tables,
// ipset); a namespace given as a descriptor is entered with nsenter.
func ipsetOptions(o *Options) ipset.Options {
	opts := ipset.Options{Logger: o.Logger}
	if o.Config != nil {
		srv := o.Config.Server.Options
		opts.IPTables = strings.TrimSpace(srv["iptables"])
		opts.IP6Tables = strings.TrimSpace(srv["ip6tables"])
		opts.IPSet = strings.TrimSpace(srv["ipset"])
	}
	opts.Prefix = nsenterPrefix(o)
	return opts
}

// ipsetSpec turns an iptables* action's parameters into the native
// backend's jail: ports (names through svc) unless the action blocks all
// ports, protocols, chain (INPUT, FORWARD or any existing chain such as
// DOCKER-USER), block type, and a network set when ipsettype asks for
// hash:net.
func ipsetSpec(jailName string, a *config.Action, svc *firewall.Services) (firewall.JailSpec, error) {
	p := a.Params
	spec := firewall.JailSpec{Name: jailName}
	base := actionBase(a)
	allPorts := strings.HasSuffix(base, "-allports") || strings.TrimSpace(p["type"]) == "allports"
	if err := specPorts(&spec, a, svc, allPorts); err != nil {
		return spec, err
	}
	switch c := strings.TrimSpace(p["chain"]); c {
	case "", "INPUT", "input":
		spec.Chain = firewall.ChainInput
	case "FORWARD", "forward":
		spec.Chain = firewall.ChainForward
	default:
		spec.Chain, spec.ChainName = firewall.ChainInput, c // such as DOCKER-USER; it must exist
	}
	spec.BlockType = firewall.BlockReject
	if strings.Contains(strings.ToUpper(p["blocktype"]), "DROP") {
		spec.BlockType = firewall.BlockDrop
	}
	spec.Networks = strings.TrimSpace(p["ipsettype"]) == "hash:net"
	if _, err := spec.Normalize(); err != nil {
		return spec, fmt.Errorf("jail %s: action %s: %w", jailName, a.Name, err)
	}
	return spec, nil
}
