// Command firewalldbench is the firewalld part of
// bench/firewall-vs-fail2ban: it drives warden's firewalld backend directly
// (no server) against the firewalld that owns the system bus named by
// DBUS_SYSTEM_BUS_ADDRESS, inside the network namespace it is started in
// (firewalld's), and prints how long the backend takes to apply K bans in
// one batch and to restore them at a start.
//
//	ip netns exec NS env DBUS_SYSTEM_BUS_ADDRESS=unix:path=... firewalldbench -k 10000,100000
//
// For each K it prints one line of key=value pairs, as fwbench does:
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
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/firewalld"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "firewalldbench:", err)
		os.Exit(1)
	}
}

func parseKs(args []string) ([]int, error) {
	fs := flag.NewFlagSet("firewalldbench", flag.ContinueOnError)
	ks := fs.String("k", "10000,100000", "comma-separated numbers of bans")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Split(*ks, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k <= 0 || k > 1<<20 {
			return nil, fmt.Errorf("-k %q: want positive numbers up to 1048576 (the set's maxelem)", f)
		}
		out = append(out, k)
	}
	return out, nil
}

// jail is the one jail every run sets up: sshd on port 22.
var jail = firewall.JailSpec{Name: "sshd", Ports: []firewall.PortRange{{First: 22, Last: 22}}, Protocols: []string{"tcp"}}

// bans returns k distinct IPv4 host bans from 100.64.0.1 up, a day long.
func bans(k int, now time.Time) []firewall.Ban {
	out := make([]firewall.Ban, k)
	a := netip.MustParseAddr("100.64.0.1")
	for i := range out {
		out[i] = firewall.Ban{Jail: jail.Name, Prefix: netip.PrefixFrom(a, 32), Expires: now.Add(24 * time.Hour)}
		a = a.Next()
	}
	return out
}

func open() (*firewalld.Backend, error) {
	return firewalld.New(firewalld.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func timed(fn func() error) (float64, error) {
	start := time.Now()
	err := fn()
	return time.Since(start).Seconds(), err
}

func expect(ctx context.Context, b firewall.Backend, k int, step string) error {
	got, err := b.List(ctx)
	if err != nil {
		return fmt.Errorf("%s: list: %w", step, err)
	}
	if len(got) != k {
		return fmt.Errorf("%s: %d bans in the firewall, want %d", step, len(got), k)
	}
	return nil
}

// measure runs the four steps for one K and returns the result line.
func measure(ctx context.Context, k int) (string, error) {
	b, err := open()
	if err != nil {
		return "", err
	}
	defer func() { b.Close() }()
	if err := b.Setup(ctx, []firewall.JailSpec{jail}); err != nil {
		return "", err
	}
	list := bans(k, time.Now())
	apply, err := timed(func() error { return b.Ban(ctx, list) })
	if err != nil {
		return "", fmt.Errorf("apply: %w", err)
	}
	var got []firewall.Ban
	listS, err := timed(func() error { got, err = b.List(ctx); return err })
	if err != nil || len(got) != k {
		return "", fmt.Errorf("list: %d bans, %v; want %d", len(got), err, k)
	}
	if err := b.Teardown(ctx); err != nil {
		return "", fmt.Errorf("teardown: %w", err)
	}
	b.Close()
	restore, err := timed(func() error {
		if b, err = open(); err != nil {
			return err
		}
		if err := b.Setup(ctx, []firewall.JailSpec{jail}); err != nil {
			return err
		}
		return b.Ban(ctx, list)
	})
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if err := expect(ctx, b, k, "restore"); err != nil {
		return "", err
	}
	for _, c := range [][]string{{"firewall-cmd", "--reload"}, {"ipset", "flush", "wfd4-" + jail.Name}} {
		if out, err := exec.CommandContext(ctx, c[0], c[1:]...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	var rep firewall.Repair
	heal, err := timed(func() error { rep, err = b.Heal(ctx, list); return err })
	if err != nil || rep.Bans != k || rep.Objects == 0 {
		return "", fmt.Errorf("heal: %+v, %v; want the rules and %d bans put back", rep, err, k)
	}
	if err := expect(ctx, b, k, "heal"); err != nil {
		return "", err
	}
	if err := b.Teardown(ctx); err != nil {
		return "", fmt.Errorf("teardown: %w", err)
	}
	return fmt.Sprintf("backend=firewalld k=%d apply_s=%.3f list_s=%.3f restore_s=%.3f heal_s=%.3f",
		k, apply, listS, restore, heal), nil
}

func run(args []string, out io.Writer) error {
	ks, err := parseKs(args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, k := range ks {
		line, err := measure(ctx, k)
		if err != nil {
			return fmt.Errorf("firewalld k=%d: %w", k, err)
		}
		fmt.Fprintln(out, line)
	}
	return nil
}
