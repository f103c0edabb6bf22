package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	nft "github.com/google/nftables"
	"golang.org/x/sys/unix"

	"warden/internal/config"
	"warden/internal/firewall"
	"warden/internal/firewall/nftables"
)

// nftablesKind is the native nf_tables backend, standing in for fail2ban's
// nftables actions.
func nftablesKind() nativeKind {
	return nativeKind{
		Name:    "nftables",
		Actions: []string{"nftables", "nftables-multiport", "nftables-allports"},
		Spec:    nftablesSpec,
		Open: func(_ context.Context, o *Options) (firewall.Backend, error) {
			return nftables.New(nftables.Options{NetNS: o.NetNS, Table: o.Table, Logger: o.Logger})
		},
		Available: nftablesUsable,
		Absent:    nftablesAbsent,
	}
}

// nftablesAbsent tells whether warden's table is missing (as after a clean
// stop, which deletes it). False when that cannot be told.
func nftablesAbsent(_ context.Context, o *Options) bool {
	c, err := nftConn(o)
	if err != nil {
		return false
	}
	name := o.Table
	if name == "" {
		name = nftables.DefaultTable
	}
	_, err = c.ListTableOfFamily(name, nft.TableFamilyINet)
	return errors.Is(err, unix.ENOENT)
}

// nftablesUsable tells whether nf_tables answers here: a netlink
// connection that can list the tables (no module, no permission or a
// kernel without nf_tables all fail).
func nftablesUsable(_ context.Context, o *Options) bool {
	c, err := nftConn(o)
	if err != nil {
		return false
	}
	_, err = c.ListTablesOfFamily(nft.TableFamilyINet)
	return err == nil
}

// nftConn is a netlink connection to nf_tables in the server's namespace
// (Options.NetNS, or this process's).
func nftConn(o *Options) (*nft.Conn, error) {
	var opts []nft.ConnOption
	if o.NetNS != 0 {
		opts = append(opts, nft.WithNetNSFd(o.NetNS))
	}
	return nft.New(opts...)
}

// nftablesSpec turns an nftables-* action's parameters into the native
// backend's jail: its ports (names through svc), protocol, chain and block
// type.
func nftablesSpec(jailName string, a *config.Action, svc *firewall.Services) (firewall.JailSpec, error) {
	p := a.Params
	spec := firewall.JailSpec{Name: jailName}
	allPorts := actionBase(a) == "nftables-allports" || strings.TrimSpace(p["type"]) == "allports"
	if err := specPorts(&spec, a, svc, allPorts); err != nil {
		return spec, err
	}
	switch c := strings.TrimSpace(p["chain_hook"]); c {
	case "", "input", "INPUT":
		spec.Chain = firewall.ChainInput
	case "forward", "FORWARD":
		spec.Chain = firewall.ChainForward
	default:
		return spec, fmt.Errorf("jail %s: action %s: chain %q: %w", jailName, a.Name, c, firewall.ErrInvalidJail)
	}
	spec.BlockType = firewall.BlockReject
	if strings.Contains(strings.ToLower(p["blocktype"]), "drop") {
		spec.BlockType = firewall.BlockDrop
	}
	return spec, nil
}
