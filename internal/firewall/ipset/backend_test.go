package ipset

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/firewalltest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// testJails cover every rule shape: single port, port list with ranges and
// two protocols, all ports with drop and a network set, the forward chain.
var testJails = []firewall.JailSpec{
	{Name: "sshd", Ports: []firewall.PortRange{pr(22, 22)}},
	{Name: "web", Ports: []firewall.PortRange{pr(80, 80), pr(443, 443), pr(8080, 8090)}, Protocols: []string{"tcp", "udp"}},
	{Name: "recidive", BlockType: "drop", Networks: true},
	{Name: "fwd", Chain: "forward", Ports: []firewall.PortRange{pr(1000, 2000)}},
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	firewalltest.Golden(t, filepath.Join("testdata", name), got, *update)
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// state renders what a namespace holds: both families' rules as
// "iptables -S" prints them and every set's name, type and family.
func (n netns) state(t *testing.T) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("# iptables -S\n")
	sb.WriteString(n.iptables(t, false, "-w", "-S"))
	sb.WriteString("# ip6tables -S\n")
	sb.WriteString(n.iptables(t, true, "-w", "-S"))
	sb.WriteString("# ipset\n")
	sets, err := parseTerse([]byte(n.run(t, "ipset", "list", "-t")))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for name, s := range sets {
		fam := "inet"
		if s.v6 {
			fam = "inet6"
		}
		lines = append(lines, fmt.Sprintf("%s %s %s refs=%d\n", name, s.typ, fam, s.refs))
	}
	slices.Sort(lines)
	sb.WriteString(strings.Join(lines, ""))
	return sb.String()
}

// empty is the state of a fresh namespace.
const empty = "# iptables -S\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n" +
	"# ip6tables -S\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n# ipset\n"

// checkList compares List with want (firewalltest.CheckList).
func checkList(t *testing.T, b *Backend, want []firewall.Ban) {
	t.Helper()
	firewalltest.CheckList(t, b, want)
}

// TestLifecycle: setup (golden rules and sets, idempotent), ban, list,
// unban, reduced setup, teardown, on both iptables variants.
func TestLifecycle(t *testing.T) {
	for _, v := range variants {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			ns := newNetns(t, v)
			b := ns.backend(t)
			ctx := context.Background()
			if err := b.Setup(ctx, testJails); err != nil {
				t.Fatal(err)
			}
			first := ns.state(t)
			golden(t, "setup.txt", first)
			if err := b.Setup(ctx, testJails); err != nil {
				t.Fatal(err)
			}
			if again := ns.state(t); again != first {
				t.Errorf("second Setup changed the state:\n%s", again)
			}
			if rep, err := b.Check(ctx, nil); err != nil || rep != (firewall.Repair{}) {
				t.Errorf("Check after Setup = %+v, %v; want nothing missing", rep, err)
			}

			hour := time.Now().Add(time.Hour).Truncate(time.Second)
			bans := []firewall.Ban{
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.7/32"), Expires: hour},
				{Jail: "sshd", Prefix: mustPrefix("2001:db8::7/128"), Expires: hour},
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.8/32")},
				{Jail: "web", Prefix: mustPrefix("192.0.2.7/32")},
				{Jail: "recidive", Prefix: mustPrefix("198.51.100.0/24"), Expires: hour},
				{Jail: "recidive", Prefix: mustPrefix("2001:db8:1::/48")},
				{Jail: "recidive", Prefix: mustPrefix("::ffff:203.0.113.9/128"), Expires: hour},
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.9/32"), Expires: time.Now().Add(-time.Second)}, // expired: skipped
			}
			if err := b.Ban(ctx, bans); err != nil {
				t.Fatal(err)
			}
			checkList(t, b, []firewall.Ban{
				{Jail: "recidive", Prefix: mustPrefix("198.51.100.0/24"), Expires: hour},
				{Jail: "recidive", Prefix: mustPrefix("203.0.113.9/32"), Expires: hour},
				{Jail: "recidive", Prefix: mustPrefix("2001:db8:1::/48")},
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.7/32"), Expires: hour},
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.8/32")},
				{Jail: "sshd", Prefix: mustPrefix("2001:db8::7/128"), Expires: hour},
				{Jail: "web", Prefix: mustPrefix("192.0.2.7/32")},
			})
			if out := ns.run(t, "ipset", "list", "f2b-sshd"); !strings.Contains(out, "192.0.2.7 timeout 3") {
				t.Errorf("f2b-sshd lacks 192.0.2.7 with its timeout:\n%s", out)
			}
			// Re-banning refreshes the timeout.
			later := time.Now().Add(5 * time.Hour).Truncate(time.Second)
			if err := b.Ban(ctx, []firewall.Ban{{Jail: "sshd", Prefix: mustPrefix("192.0.2.7/32"), Expires: later}}); err != nil {
				t.Fatal(err)
			}
			if err := b.Unban(ctx, []firewall.Ban{
				{Jail: "sshd", Prefix: mustPrefix("2001:db8::7/128")},
				{Jail: "recidive", Prefix: mustPrefix("198.51.100.0/24")},
				{Jail: "web", Prefix: mustPrefix("192.0.2.99/32")}, // not banned: ignored
				{Jail: "web", Prefix: mustPrefix("2001:db8::/64")}, // network in a host set: ignored
				{Jail: "web", Prefix: mustPrefix("192.0.2.0/24")},  // (hash:ip would delete the range)
			}); err != nil {
				t.Fatal(err)
			}
			checkList(t, b, []firewall.Ban{
				{Jail: "recidive", Prefix: mustPrefix("203.0.113.9/32"), Expires: hour},
				{Jail: "recidive", Prefix: mustPrefix("2001:db8:1::/48")},
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.7/32"), Expires: later},
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.8/32")},
				{Jail: "web", Prefix: mustPrefix("192.0.2.7/32")},
			})

			// A reduced Setup keeps the staying jail's bans and removes the
			// others' rules and sets.
			if err := b.Setup(ctx, testJails[:1]); err != nil {
				t.Fatal(err)
			}
			golden(t, "setup-reduced.txt", ns.state(t))
			checkList(t, b, []firewall.Ban{
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.7/32"), Expires: later},
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.8/32")},
			})

			// A new Backend (a restarted warden) finds the bans, and its
			// Teardown removes what the earlier one made.
			fresh := ns.backend(t)
			if got, err := fresh.List(ctx); err != nil || len(got) != 2 {
				t.Errorf("fresh List = %v, %v; want the 2 bans", got, err)
			}
			if err := fresh.Teardown(ctx); err != nil {
				t.Fatal(err)
			}
			if got := ns.state(t); got != empty {
				t.Errorf("state after Teardown:\n%s", got)
			}
			if err := b.Teardown(ctx); err != nil {
				t.Errorf("second Teardown: %v", err)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	ns := newNetns(t, "nft")
	b := ns.backend(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		jail firewall.JailSpec
	}{
		{"bad name", firewall.JailSpec{Name: "ssh d"}},
		{"bad chain", firewall.JailSpec{Name: "sshd", Chain: "output"}},
		{"bad block type", firewall.JailSpec{Name: "sshd", BlockType: "tarpit"}},
		{"bad protocol", firewall.JailSpec{Name: "sshd", Protocols: []string{"icmp"}}},
		{"bad chain name", firewall.JailSpec{Name: "sshd", ChainName: "IN PUT"}},
	} {
		if err := b.Setup(ctx, []firewall.JailSpec{tc.jail}); !errors.Is(err, firewall.ErrInvalidJail) {
			t.Errorf("%s: Setup = %v, want ErrInvalidJail", tc.name, err)
		}
	}
	// Jail "a6"'s IPv4 set and jail "a"'s IPv6 set would share a name.
	if err := b.Setup(ctx, []firewall.JailSpec{{Name: "a"}, {Name: "a6"}}); !errors.Is(err, firewall.ErrInvalidJail) {
		t.Errorf("colliding set names: Setup = %v, want ErrInvalidJail", err)
	}
	if got := ns.state(t); got != empty {
		t.Errorf("failed Setups left state behind:\n%s", got)
	}
	if err := b.Setup(ctx, testJails); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ban  firewall.Ban
		want error
	}{
		{"unknown jail", firewall.Ban{Jail: "nope", Prefix: mustPrefix("192.0.2.1/32")}, firewall.ErrUnknownJail},
		{"network in a host set", firewall.Ban{Jail: "sshd", Prefix: mustPrefix("192.0.2.0/24")}, firewall.ErrInvalidAddress},
		{"everything", firewall.Ban{Jail: "recidive", Prefix: mustPrefix("0.0.0.0/0")}, firewall.ErrInvalidAddress},
		{"multicast", firewall.Ban{Jail: "sshd", Prefix: mustPrefix("ff02::1/128")}, firewall.ErrInvalidAddress},
	} {
		if err := b.Ban(ctx, []firewall.Ban{tc.ban}); !errors.Is(err, tc.want) {
			t.Errorf("%s: Ban = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, err := b.List(ctx); err != nil || len(got) != 0 {
		t.Errorf("refused bans left %v, %v", got, err)
	}
}

// TestSetTypeChange: a jail that starts asking for networks gets its host
// set recreated as a network set, bans kept.
func TestSetTypeChange(t *testing.T) {
	ns := newNetns(t, "legacy")
	b := ns.backend(t)
	ctx := context.Background()
	jail := firewall.JailSpec{Name: "sshd", Ports: []firewall.PortRange{pr(22, 22)}}
	if err := b.Setup(ctx, []firewall.JailSpec{jail}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban(ctx, []firewall.Ban{{Jail: "sshd", Prefix: mustPrefix("192.0.2.1/32")}}); err != nil {
		t.Fatal(err)
	}
	jail.Networks = true
	if err := b.Setup(ctx, []firewall.JailSpec{jail}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban(ctx, []firewall.Ban{{Jail: "sshd", Prefix: mustPrefix("198.51.100.0/24")}}); err != nil {
		t.Fatal(err)
	}
	checkList(t, b, []firewall.Ban{
		{Jail: "sshd", Prefix: mustPrefix("192.0.2.1/32")},
		{Jail: "sshd", Prefix: mustPrefix("198.51.100.0/24")},
	})
	if rep, err := b.Check(ctx, nil); err != nil || rep != (firewall.Repair{}) {
		t.Errorf("Check after type change = %+v, %v", rep, err)
	}
}

// TestConcurrentUse runs Ban, Unban and List from several goroutines; the
// race detector and the final state check the locking.
func TestConcurrentUse(t *testing.T) {
	ns := newNetns(t, "nft")
	b := ns.backend(t)
	ctx := context.Background()
	if err := b.Setup(ctx, testJails); err != nil {
		t.Fatal(err)
	}
	firewalltest.ConcurrentUse(t, b, "web", 3, 6)
}

// TestNamedChain: a jail naming an existing chain (fail2ban's chain =
// DOCKER-USER) gets its rules there, in both families; a chain that does
// not exist fails Setup without leaving rules behind.
func TestNamedChain(t *testing.T) {
	ns := newNetns(t, "legacy")
	b := ns.backend(t)
	ctx := context.Background()
	jail := firewall.JailSpec{Name: "docker", ChainName: "DOCKER-USER", Ports: []firewall.PortRange{pr(443, 443)}}
	if err := b.Setup(ctx, []firewall.JailSpec{jail}); err == nil {
		t.Fatal("Setup into a missing chain succeeded")
	}
	for _, v6 := range []bool{false, true} {
		if got := ns.iptables(t, v6, "-w", "-S"); strings.Contains(got, "warden:") {
			t.Errorf("failed Setup left rules:\n%s", got)
		}
		ns.iptables(t, v6, "-w", "-N", "DOCKER-USER")
	}
	if err := b.Setup(ctx, []firewall.JailSpec{jail}); err != nil {
		t.Fatal(err)
	}
	for _, v6 := range []bool{false, true} {
		got := ns.iptables(t, v6, "-w", "-S", "DOCKER-USER")
		if !strings.Contains(got, "-A DOCKER-USER -p tcp -m multiport --dports 443 -m set --match-set "+SetName("docker", v6)+" src") {
			t.Errorf("DOCKER-USER (v6 %v) lacks the jail's rule:\n%s", v6, got)
		}
	}
	if rep, err := b.Check(ctx, nil); err != nil || rep != (firewall.Repair{}) {
		t.Errorf("Check = %+v, %v", rep, err)
	}
	ns.iptables(t, false, "-w", "-F", "DOCKER-USER")
	if rep, err := b.Heal(ctx, nil); err != nil || rep.Objects != 1 {
		t.Errorf("Heal after flushing DOCKER-USER = %+v, %v; want 1 rule back", rep, err)
	}
	if err := b.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ns.iptables(t, false, "-w", "-S", "DOCKER-USER"); strings.Contains(got, "warden:") {
		t.Errorf("Teardown left rules:\n%s", got)
	}
}

// TestIPv4Only: with ip6tables unusable (here: "false" named as the tool)
// Setup filters IPv4 alone, IPv6 bans are refused, and heal and teardown
// work on IPv4.
func TestIPv4Only(t *testing.T) {
	ns := newNetns(t, "nft")
	b, err := New(Options{IPTables: "iptables-nft", IP6Tables: "false", Prefix: []string{"ip", "netns", "exec", ns.name}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.Setup(ctx, testJails[:1]); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban(ctx, []firewall.Ban{{Jail: "sshd", Prefix: mustPrefix("2001:db8::1/128")}}); !errors.Is(err, firewall.ErrInvalidAddress) {
		t.Errorf("IPv6 ban = %v, want ErrInvalidAddress", err)
	}
	want := []firewall.Ban{{Jail: "sshd", Prefix: mustPrefix("192.0.2.1/32")}}
	if err := b.Ban(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := b.Unban(ctx, []firewall.Ban{{Jail: "sshd", Prefix: mustPrefix("2001:db8::1/128")}}); err != nil {
		t.Errorf("IPv6 unban: %v", err)
	}
	if got := ns.run(t, "ipset", "list", "-n"); got != "f2b-sshd\n" {
		t.Errorf("sets %q, want only f2b-sshd", got)
	}
	ns.iptables(t, false, "-w", "-F")
	if rep, err := b.Heal(ctx, want); err != nil || rep != (firewall.Repair{Objects: 1}) {
		t.Errorf("Heal = %+v, %v; want the one rule back", rep, err)
	}
	checkList(t, b, want)
	if err := b.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ns.state(t); got != empty {
		t.Errorf("state after Teardown:\n%s", got)
	}
}

func TestAvailable(t *testing.T) {
	ns := newNetns(t, "nft")
	ctx := context.Background()
	for _, tc := range []struct {
		opts Options
		want bool
	}{
		{Options{IPTables: "iptables-nft"}, true},
		{Options{IPTables: "iptables-nft", IP6Tables: "false"}, true},
		{Options{IPTables: "no-such-iptables"}, false},
		{Options{IPTables: "iptables-nft", IPSet: "false"}, false},
	} {
		tc.opts.Prefix = []string{"ip", "netns", "exec", ns.name}
		b, err := New(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Available(ctx); got != tc.want {
			t.Errorf("Available with %+v = %v, want %v", tc.opts, got, tc.want)
		}
	}
}
