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
// restore and heal. The namespace must be fresh; fwbench tears down what it
// made before it exits.
package main

import (
	"context"
	"errors"
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

	"golang.org/x/sys/unix"

	"warden/internal/firewall"
	"warden/internal/firewall/ipset"
	"warden/internal/firewall/nftables"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fwbench:", err)
		os.Exit(1)
	}
}

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
	for _, f := range strings.Split(ks, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k <= 0 || k > 1<<24 {
			return c, fmt.Errorf("-k %q: want positive numbers up to 16777216", f)
		}
		c.ks = append(c.ks, k)
	}
	return c, nil
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

// open returns a fresh backend of the configured kind and a function that
// empties the jail's set behind the backend's back.
func open(c config) (firewall.Backend, func() error, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch c.backend {
	case "nftables":
		b, err := nftables.New(nftables.Options{Logger: log})
		flush := func() error { return exec.Command("nft", "delete", "table", "inet", b.Table()).Run() }
		return b, flush, err
	default:
		ip6 := ""
		if c.iptables != "" {
			ip6 = "ip6" + strings.TrimPrefix(c.iptables, "ip")
		}
		b, err := ipset.New(ipset.Options{IPTables: c.iptables, IP6Tables: ip6, Logger: log})
		flush := func() error { return exec.Command("ipset", "flush", ipset.SetName(jail.Name, false)).Run() }
		return b, flush, err
	}
}

func closeBackend(b firewall.Backend) {
	if c, ok := b.(io.Closer); ok {
		c.Close()
	}
}

// timed runs fn and returns its duration in seconds.
func timed(fn func() error) (float64, error) {
	start := time.Now()
	err := fn()
	return time.Since(start).Seconds(), err
}

// cpuSeconds is the user + system time of this process and of its
// waited-for children (the ipset and iptables tools) so far.
func cpuSeconds() float64 {
	total := 0.0
	for _, who := range []int{unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN} {
		var ru unix.Rusage
		if unix.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	return total
}

// expect checks that the backend lists exactly k bans.
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
func measure(ctx context.Context, c config, k int) (string, error) {
	b, flush, err := open(c)
	if err != nil {
		return "", err
	}
	defer func() { closeBackend(b) }()
	if err := b.Setup(ctx, []firewall.JailSpec{jail}); err != nil {
		return "", err
	}
	list := bans(k, time.Now())
	cpu0 := cpuSeconds()
	apply, err := timed(func() error { return b.Ban(ctx, list) })
	applyCPU := cpuSeconds() - cpu0
	if err != nil {
		return "", fmt.Errorf("apply: %w", err)
	}
	var got []firewall.Ban
	listS, err := timed(func() error { got, err = b.List(ctx); return err })
	if err != nil || len(got) != k {
		return "", fmt.Errorf("list: %d bans, %v; want %d", len(got), err, k)
	}

	// A stop that removes everything, then a start restoring from the
	// database.
	if err := b.Teardown(ctx); err != nil {
		return "", fmt.Errorf("teardown: %w", err)
	}
	closeBackend(b)
	restore, err := timed(func() error {
		if b, flush, err = open(c); err != nil {
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

	h, ok := b.(firewall.Healer)
	if !ok {
		return "", errors.New("backend does not heal")
	}
	if err := flush(); err != nil {
		return "", fmt.Errorf("flush behind the backend's back: %w", err)
	}
	var rep firewall.Repair
	heal, err := timed(func() error { rep, err = h.Heal(ctx, list); return err })
	if err != nil || rep.Bans != k {
		return "", fmt.Errorf("heal: %+v, %v; want %d bans put back", rep, err, k)
	}
	if err := expect(ctx, b, k, "heal"); err != nil {
		return "", err
	}
	if err := b.Teardown(ctx); err != nil {
		return "", fmt.Errorf("teardown: %w", err)
	}
	name := c.backend
	if c.iptables != "" {
		name += "/" + c.iptables
	}
	return fmt.Sprintf("backend=%s k=%d apply_s=%.3f apply_cpu_s=%.3f list_s=%.3f restore_s=%.3f heal_s=%.3f",
		name, k, apply, applyCPU, listS, restore, heal), nil
}

func run(args []string, out io.Writer) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, k := range c.ks {
		line, err := measure(ctx, c, k)
		if err != nil {
			return fmt.Errorf("%s k=%d: %w", c.backend, k, err)
		}
		fmt.Fprintln(out, line)
	}
	return nil
}
