package ipset

import (
	"context"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/firewalltest"
)

// TestHeal: after each outside change (rules flushed, a set flushed, rules
// flushed and sets destroyed) one Heal puts everything back and Check then
// finds nothing missing, on both iptables variants.
func TestHeal(t *testing.T) {
	for _, v := range variants {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			ns := newNetns(t, v)
			b := ns.backend(t)
			ctx := context.Background()
			jails := testJails[:3]
			if err := b.Setup(ctx, jails); err != nil {
				t.Fatal(err)
			}
			hour := time.Now().Add(time.Hour)
			want := []firewall.Ban{
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.7/32"), Expires: hour},
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.8/32")},
				{Jail: "sshd", Prefix: mustPrefix("2001:db8::7/128"), Expires: hour},
				{Jail: "recidive", Prefix: mustPrefix("198.51.100.0/24")},
				{Jail: "gone", Prefix: mustPrefix("192.0.2.1/32")},                                        // jail not installed: ignored
				{Jail: "sshd", Prefix: mustPrefix("192.0.2.9/32"), Expires: time.Now().Add(-time.Minute)}, // expired: ignored
			}
			if err := b.Ban(ctx, want[:4]); err != nil {
				t.Fatal(err)
			}
			healthy := ns.state(t)
			firewalltest.HealCases(t, b, want, []firewalltest.HealCase{
				{Name: "nothing", Damage: func(*testing.T) {}, Want: firewall.Repair{}},
				{Name: "iptables -F", Damage: func(t *testing.T) { ns.iptables(t, false, "-w", "-F") }, Want: firewall.Repair{Objects: 4}},
				{Name: "ip6tables -F INPUT", Damage: func(t *testing.T) { ns.iptables(t, true, "-w", "-F", "INPUT") }, Want: firewall.Repair{Objects: 4}},
				{Name: "ipset flush", Damage: func(t *testing.T) { ns.run(t, "ipset", "flush", "f2b-sshd") }, Want: firewall.Repair{Bans: 2}},
				{Name: "one element deleted", Damage: func(t *testing.T) { ns.run(t, "ipset", "del", "f2b-sshd6", "2001:db8::7") }, Want: firewall.Repair{Bans: 1}},
				{Name: "rules flushed and sets destroyed", Damage: func(t *testing.T) {
					ns.iptables(t, false, "-w", "-F")
					ns.iptables(t, true, "-w", "-F")
					ns.run(t, "ipset", "destroy")
				}, Want: firewall.Repair{Objects: 8 + 6, Bans: 4}},
			}, func(t *testing.T) {
				if got := ns.state(t); got != healthy {
					t.Errorf("state after Heal:\n%s\nwant:\n%s", got, healthy)
				}
				if out := ns.run(t, "ipset", "list", "f2b-sshd"); !strings.Contains(out, "192.0.2.8 timeout 0") {
					t.Errorf("permanent ban not back as permanent:\n%s", out)
				}
			})
		})
	}
}

func TestHealBeforeSetup(t *testing.T) {
	ns := newNetns(t, "nft")
	b := ns.backend(t)
	rep, err := b.Heal(context.Background(), []firewall.Ban{{Jail: "sshd", Prefix: mustPrefix("192.0.2.1/32")}})
	if err != nil || rep != (firewall.Repair{}) {
		t.Errorf("Heal before Setup = %+v, %v", rep, err)
	}
	if got := ns.state(t); got != empty {
		t.Errorf("Heal before Setup changed the state:\n%s", got)
	}
}

// entries reads "Number of entries" of one set from ipset list -t.
func (n netns) entries(t *testing.T, set string) string {
	t.Helper()
	for _, line := range strings.Split(n.run(t, "ipset", "list", "-t", set), "\n") {
		if v, ok := strings.CutPrefix(line, "Number of entries: "); ok {
			return v
		}
	}
	t.Fatalf("no entry count for %s", set)
	return ""
}

// TestBan100k bans 100,000 addresses in one batch, counts them with ipset
// list, and heals them after an ipset flush in one batch. The set is the
// same whatever the iptables variant, so one variant is enough.
func TestBan100k(t *testing.T) {
	if testing.Short() {
		t.Skip("large batch skipped in -short mode")
	}
	ns := newNetns(t, "nft")
	b := ns.backend(t)
	ctx := context.Background()
	if err := b.Setup(ctx, testJails); err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	bans := firewalltest.HostBans("sshd", n, time.Now().Add(time.Hour))
	start := time.Now()
	if err := b.Ban(ctx, bans); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("Ban of %d addresses took %v", n, took)
	// The target is 2 s; a loaded shared machine gets some slack.
	if took > 6*time.Second {
		t.Errorf("Ban of %d addresses took %v, want under 2s", n, took)
	}
	if got := ns.entries(t, "f2b-sshd"); got != "100000" {
		t.Errorf("ipset list counts %s entries, want %d", got, n)
	}
	ns.run(t, "ipset", "flush", "f2b-sshd")
	start = time.Now()
	rep, err := b.Heal(ctx, bans)
	if err != nil || rep.Bans != n {
		t.Fatalf("Heal = %+v, %v", rep, err)
	}
	t.Logf("Heal of %d addresses took %v", n, time.Since(start))
	if got := ns.entries(t, "f2b-sshd"); got != "100000" {
		t.Errorf("after Heal ipset list counts %s entries, want %d", got, n)
	}
	// The steady state of the heal loop: all in place, only headers read.
	start = time.Now()
	if rep, err := b.Check(ctx, bans); err != nil || rep != (firewall.Repair{}) {
		t.Fatalf("Check with all in place = %+v, %v", rep, err)
	}
	t.Logf("Check of %d addresses in place took %v", n, time.Since(start))
	start = time.Now()
	list, err := b.List(ctx)
	if err != nil || len(list) != n {
		t.Fatalf("List: %d bans, %v", len(list), err)
	}
	t.Logf("List of %d addresses took %v", n, time.Since(start))
	start = time.Now()
	if err := b.Unban(ctx, bans); err != nil {
		t.Fatal(err)
	}
	t.Logf("Unban of %d addresses took %v", n, time.Since(start))
	if got := ns.entries(t, "f2b-sshd"); got != "0" {
		t.Errorf("%s entries left after Unban", got)
	}
}

func BenchmarkBan(b *testing.B) {
	firewalltest.BenchmarkBan(b, testJails, func(b *testing.B) firewall.Backend {
		return newNetns(b, "nft").backend(b)
	})
}
