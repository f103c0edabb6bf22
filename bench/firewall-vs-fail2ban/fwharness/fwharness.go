// Package fwharness is the measuring loop shared by fwbench (nftables,
// ipset) and firewalldbench: it drives one firewall backend directly, with
// no server, through apply, list, restore and heal of K bans, checks each
// step's result and renders the figures as one key=value line. Main and
// MeasureAll are the commands' shared main and loop over the -k counts.
package fwharness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"warden/internal/firewall"
)

// Jail is the one jail every run sets up: sshd on port 22.
var Jail = firewall.JailSpec{Name: "sshd", Ports: []firewall.PortRange{{First: 22, Last: 22}}, Protocols: []string{"tcp"}}

// Bans returns k distinct IPv4 host bans in Jail from 100.64.0.1 up, a day
// long from now.
func Bans(k int, now time.Time) []firewall.Ban {
	out := make([]firewall.Ban, k)
	a := netip.MustParseAddr("100.64.0.1")
	for i := range out {
		out[i] = firewall.Ban{Jail: Jail.Name, Prefix: netip.PrefixFrom(a, 32), Expires: now.Add(24 * time.Hour)}
		a = a.Next()
	}
	return out
}

// Main is a bench command's main: it calls run with the command line's
// arguments and standard output and, when run fails, prints the error
// after the command's name and exits 1.
func Main(name string, run func(args []string, out io.Writer) error) {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// MeasureAll measures t once for each k in ks, in order, writing each
// result line to out; it stops at the first failure, which names the
// target and k.
func MeasureAll(ctx context.Context, out io.Writer, t Target, ks []int) error {
	for _, k := range ks {
		line, err := Measure(ctx, t, k)
		if err != nil {
			return fmt.Errorf("%s k=%d: %w", t.Name, k, err)
		}
		if _, err := fmt.Fprintln(out, line); err != nil {
			return err
		}
	}
	return nil
}

// ParseKs reads a -k flag's comma-separated list of ban counts, each from 1
// to most.
func ParseKs(s string, most int, why string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k <= 0 || k > most {
			return nil, fmt.Errorf("-k %q: want positive numbers up to %d%s", f, most, why)
		}
		out = append(out, k)
	}
	return out, nil
}

// Target is the backend one run measures.
type Target struct {
	// Name is the line's backend= value.
	Name string
	// Open returns a fresh backend; it is closed (if an io.Closer) when the
	// run is done with it.
	Open func() (firewall.Backend, error)
	// Disturb takes away, behind b's back, what the heal step must put back.
	Disturb func(ctx context.Context, b firewall.Backend) error
	// CPU adds apply_cpu_s: user + system seconds of this process and its
	// waited-for children (the ipset and iptables tools) during the apply.
	CPU bool
	// HealObjects requires the heal to put back rules or sets as well as
	// the bans.
	HealObjects bool
}

// Measure runs the four steps for k bans and returns the result line:
//
//	apply_s    Ban of k addresses in one batch, jail already set up
//	list_s     List reading the k bans back
//	restore_s  a new backend, Setup, then Ban of all k in one batch, after a
//	           Teardown removed everything (a stop, then a start restoring
//	           from the database)
//	heal_s     Heal after Disturb
//
// The backend is torn down at the end.
func Measure(ctx context.Context, t Target, k int) (string, error) {
	b, err := t.Open()
	if err != nil {
		return "", err
	}
	defer func() { closeBackend(b) }()
	if err := b.Setup(ctx, []firewall.JailSpec{Jail}); err != nil {
		return "", err
	}
	list := Bans(k, time.Now())
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

	if err := b.Teardown(ctx); err != nil {
		return "", fmt.Errorf("teardown: %w", err)
	}
	closeBackend(b)
	restore, err := timed(func() error {
		if b, err = t.Open(); err != nil {
			return err
		}
		if err := b.Setup(ctx, []firewall.JailSpec{Jail}); err != nil {
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
	if err := t.Disturb(ctx, b); err != nil {
		return "", fmt.Errorf("disturb behind the backend's back: %w", err)
	}
	var rep firewall.Repair
	heal, err := timed(func() error { rep, err = h.Heal(ctx, list); return err })
	if err != nil || rep.Bans != k || t.HealObjects && rep.Objects == 0 {
		return "", fmt.Errorf("heal: %+v, %v; want %d bans put back (and rules: %v)", rep, err, k, t.HealObjects)
	}
	if err := expect(ctx, b, k, "heal"); err != nil {
		return "", err
	}
	if err := b.Teardown(ctx); err != nil {
		return "", fmt.Errorf("teardown: %w", err)
	}
	line := fmt.Sprintf("backend=%s k=%d apply_s=%.3f", t.Name, k, apply)
	if t.CPU {
		line += fmt.Sprintf(" apply_cpu_s=%.3f", applyCPU)
	}
	return line + fmt.Sprintf(" list_s=%.3f restore_s=%.3f heal_s=%.3f", listS, restore, heal), nil
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
// waited-for children so far.
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
