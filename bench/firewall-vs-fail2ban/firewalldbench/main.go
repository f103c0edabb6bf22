// Command firewalldbench is the firewalld part of
// bench/firewall-vs-fail2ban: it drives warden's firewalld backend directly
// (no server) against the firewalld that owns the system bus named by
// DBUS_SYSTEM_BUS_ADDRESS, inside the network namespace it is started in
// (firewalld's), and prints how long the backend takes to apply K bans in
// one batch and to restore them at a start.
//
//	ip netns exec NS env DBUS_SYSTEM_BUS_ADDRESS=unix:path=... firewalldbench -k 10000,100000
//
// For each K it prints one line of key=value pairs, from the loop it shares
// with fwbench (package fwharness):
//
//	apply_s    Ban of K addresses in one batch, jail already set up
//	list_s     List reading the K bans back
//	restore_s  a new backend, Setup, then Ban of all K in one batch, after
//	           a Teardown removed the rules and sets
//	heal_s     Heal after firewall-cmd --reload dropped the direct rules
//	           and the jail's set was flushed behind warden's back
//
// Every step checks its result (List returns K bans). The firewalld and the
// namespace must be the benchmark's own; firewalldbench tears down what it
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
	"warden/internal/firewall/firewalld"
)

func main() { fwharness.Main("firewalldbench", run) }

func parseKs(args []string) ([]int, error) {
	fs := flag.NewFlagSet("firewalldbench", flag.ContinueOnError)
	ks := fs.String("k", "10000,100000", "comma-separated numbers of bans")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return fwharness.ParseKs(*ks, 1<<20, " (the set's maxelem)")
}

// target is warden's firewalld backend on the bus of the environment; the
// heal step follows a firewall-cmd --reload (direct rules gone) and a flush
// of the jail's IPv4 set.
func target() fwharness.Target {
	return fwharness.Target{
		Name: "firewalld",
		Open: func() (firewall.Backend, error) {
			return firewalld.New(firewalld.Options{Logger: slog.New(slog.DiscardHandler)})
		},
		Disturb: func(ctx context.Context, _ firewall.Backend) error {
			for _, c := range [][]string{{"firewall-cmd", "--reload"}, {"ipset", "flush", "wfd4-" + fwharness.Jail.Name}} {
				if out, err := exec.CommandContext(ctx, c[0], c[1:]...).CombinedOutput(); err != nil {
					return fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
				}
			}
			return nil
		},
		HealObjects: true,
	}
}

func run(args []string, out io.Writer) error {
	ks, err := parseKs(args)
	if err != nil {
		return err
	}
	return fwharness.MeasureAll(context.Background(), out, target(), ks)
}
