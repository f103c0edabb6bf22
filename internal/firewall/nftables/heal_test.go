package nftables

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/firewalltest"
)

var handleRe = regexp.MustCompile(`ip saddr @addr4-web reject # handle (\d+)`)

func TestHeal(t *testing.T) {
	ns := newNetns(t)
	b := ns.backend(t)
	ctx := context.Background()
	if err := b.Setup(ctx, testJails); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().Add(time.Hour)
	want := []firewall.Ban{
		// Ended: never put back, and dropped without touching want's
		// array (the ban manager's, which Heal shares, see groupIn).
		{Jail: "sshd", Prefix: mustPrefix("192.0.2.99/32"), Expires: time.Now().Add(-time.Minute)},
		{Jail: "sshd", Prefix: mustPrefix("192.0.2.7/32"), Expires: hour},
		{Jail: "sshd", Prefix: mustPrefix("2001:db8::7/128")},
		{Jail: "web", Prefix: mustPrefix("198.51.100.0/24"), Expires: hour},
		{Jail: "fwd", Prefix: mustPrefix("2001:db8:1::/48")},
	}
	if err := b.Ban(ctx, want); err != nil {
		t.Fatal(err)
	}
	before := volatile.ReplaceAllString(ns.nft(t, "list", "ruleset"), "")
	// Everything a Setup creates: table, 2 chains, 4 sets and 4 rules per jail.
	all := firewall.Repair{Objects: 1 + 2 + 4*len(testJails)*2, Bans: len(want) - 1}
	unchanged := slices.Clone(want)

	firewalltest.HealCases(t, b, want, []firewalltest.HealCase{
		{Name: "nothing missing", Damage: func(*testing.T) {}, Want: firewall.Repair{}},
		{Name: "ruleset flushed", Damage: func(t *testing.T) { ns.nft(t, "flush", "ruleset") }, Want: all},
		{Name: "one element deleted", Damage: func(t *testing.T) {
			ns.nft(t, "delete", "element", "inet", "warden", "addr4-sshd", "{ 192.0.2.7 }")
		}, Want: firewall.Repair{Bans: 1}},
		{Name: "network deleted", Damage: func(t *testing.T) {
			ns.nft(t, "delete", "element", "inet", "warden", "net4-web", "{ 198.51.100.0/24 }")
		}, Want: firewall.Repair{Bans: 1}},
		{Name: "set flushed", Damage: func(t *testing.T) { ns.nft(t, "flush", "set", "inet", "warden", "addr6-sshd") }, Want: firewall.Repair{Bans: 1}},
		{Name: "rule deleted", Damage: func(t *testing.T) {
			m := handleRe.FindStringSubmatch(ns.nft(t, "-a", "list", "chain", "inet", "warden", "input"))
			if m == nil {
				t.Fatal("rule for addr4-web not found")
			}
			ns.nft(t, "delete", "rule", "inet", "warden", "input", "handle", m[1])
		}, Want: firewall.Repair{Objects: 1}},
		{Name: "chain deleted", Damage: func(t *testing.T) {
			ns.nft(t, "delete", "chain", "inet", "warden", "forward")
		}, Want: firewall.Repair{Objects: 1 + 4}},
	}, func(t *testing.T) {
		after := volatile.ReplaceAllString(ns.nft(t, "list", "ruleset"), "")
		if after != before {
			t.Errorf("ruleset after Heal differs:\n--- after\n%s\n--- before\n%s", after, before)
		}
		if !slices.Equal(want, unchanged) {
			t.Errorf("Heal changed its want slice:\n%v\nwas\n%v", want, unchanged)
		}
	})
}

func TestHealBeforeSetup(t *testing.T) {
	ns := newNetns(t)
	b := ns.backend(t)
	got, err := b.Heal(context.Background(), nil)
	if err != nil || got != (firewall.Repair{}) {
		t.Errorf("Heal before Setup = %+v, %v; want nothing", got, err)
	}
	if out := ns.nft(t, "list", "ruleset"); out != "" {
		t.Errorf("Heal before Setup created:\n%s", out)
	}
	_, err = b.Check(context.Background(), []firewall.Ban{{Jail: "sshd", Prefix: mustPrefix("192.0.2.1/32")}})
	if !errors.Is(err, firewall.ErrUnknownJail) {
		t.Errorf("Check with a ban of an unknown jail: %v, want ErrUnknownJail", err)
	}
}

// TestGeneration checks that the generation moves with every commit, ours
// and another process's, and stays put otherwise.
func TestGeneration(t *testing.T) {
	ns := newNetns(t)
	b := ns.backend(t)
	ctx := context.Background()
	gen := func() uint32 {
		t.Helper()
		g, err := b.Generation()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g0 := gen()
	if g := gen(); g != g0 {
		t.Fatalf("generation moved without a commit: %d then %d", g0, g)
	}
	if err := b.Setup(ctx, testJails); err != nil {
		t.Fatal(err)
	}
	g1 := gen()
	if g1 == g0 {
		t.Fatalf("generation %d unchanged by Setup", g1)
	}
	if err := b.Ban(ctx, []firewall.Ban{{Jail: "sshd", Prefix: mustPrefix("192.0.2.9/32")}}); err != nil {
		t.Fatal(err)
	}
	g2 := gen()
	if g2 != g1+1 {
		t.Fatalf("generation after one Ban = %d, want %d", g2, g1+1)
	}
	ns.nft(t, "delete", "element", "inet", "warden", "addr4-sshd", "{ 192.0.2.9 }")
	if g := gen(); g != g2+1 {
		t.Fatalf("generation after nft's delete = %d, want %d", g, g2+1)
	}
	// A reader keeps its socket across reads, and reopens after Close.
	r := b.NewGenerationReader()
	defer r.Close()
	for i := range 3 {
		if i == 2 {
			r.Close()
		}
		if g, err := r.Generation(); err != nil || g != g2+1 {
			t.Fatalf("reader's read %d = %d, %v; want %d", i, g, err, g2+1)
		}
	}
}
