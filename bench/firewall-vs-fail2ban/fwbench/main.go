// Command fwbench is warden's half of bench/firewall-vs-fail2ban: it drives
// one native firewall backend directly (no server) inside the network
// namespace it is started in, and prints how long the backend takes to
// apply K bans in one batch and to restore them at a start.
//
//	ip netns exec NS fwbench -backend nftables|ipset -k 10000,100000 [-iptables iptables-nft]
//
// For each K it prints one line of key=value pairs:
//
//	apply_s    Ban of K addresses in one batch, jail already set up
//	apply_cpu_s  CPU seconds (user + system) the apply took in fwbench and
//	           in the tools it ran: the figure a loaded machine does not
//	           inflate (kernel work done in softirq may be missing)
//	list_s     List reading the K bans back (what a restart with bans kept
//	           in the kernel, or status --firewall, costs)
//	restore_s  what warden's start does after a stop that removed its
//	           rules: a new backend, Setup, then Ban of all K from the
//	           database in one batch, on an empty firewall
//	heal_s     Heal after the jail's set was flushed behind warden's back
//	           (nftables: the table deleted; ipset: ipset flush)
//
// Every step checks its result: List must return K bans after apply,
// restore and heal. The loop is package fwharness's, shared with
// firewalldbench. The namespace must be fresh; fwbench tears down what it
// made before it exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"

	"warden/bench/firewall-vs-fail2ban/fwharness"
	"warden/internal/firewall"
	"warden/internal/firewall/ipset"
	"warden/internal/firewall/nftables"
)

func main() { fwharness.Main("fwbench", run) }

// config is what the flags say.
type config struct {
	backend  string
	ks       []int
	iptables string // iptables tool for the ipset backend ("" = iptables)
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("fwbench", flag.ContinueOnError)
	var c config
	var ks string
	fs.StringVar(&c.backend, "backend", "", "nftables or ipset")
	fs.StringVar(&ks, "k", "10000,100000", "comma-separated numbers of bans")
	fs.StringVar(&c.iptables, "iptables", "", "iptables tool for the ipset backend (iptables-nft, iptables-legacy)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.backend != "nftables" && c.backend != "ipset" {
		return c, fmt.Errorf("-backend %q: want nftables or ipset", c.backend)
	}
	var err error
	c.ks, err = fwharness.ParseKs(ks, 1<<24, "")
	return c, err
}

// target is the configured backend: how to open it, and how to empty the
// jail's set behind its back (nftables: the table deleted; ipset: ipset
// flush).
func target(c config) fwharness.Target {
	log := slog.New(slog.DiscardHandler)
	t := fwharness.Target{Name: c.backend, CPU: true}
	if c.iptables != "" {
		t.Name += "/" + c.iptables
	}
	switch c.backend {
	case "nftables":
		t.Open = func() (firewall.Backend, error) { return nftables.New(nftables.Options{Logger: log}) }
		t.Disturb = func(ctx context.Context, b firewall.Backend) error {
			return exec.CommandContext(ctx, "nft", "delete", "table", "inet", b.(*nftables.Backend).Table()).Run()
		}
	default:
		ip6 := ""
		if c.iptables != "" {
			ip6 = "ip6" + strings.TrimPrefix(c.iptables, "ip")
		}
		t.Open = func() (firewall.Backend, error) {
			return ipset.New(ipset.Options{IPTables: c.iptables, IP6Tables: ip6, Logger: log})
		}
		t.Disturb = func(ctx context.Context, _ firewall.Backend) error {
			return exec.CommandContext(ctx, "ipset", "flush", ipset.SetName(fwharness.Jail.Name, false)).Run()
		}
	}
	return t
}

func run(args []string, out io.Writer) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	return fwharness.MeasureAll(context.Background(), out, target(c), c.ks)
}
