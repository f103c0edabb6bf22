package nftables

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"warden/internal/firewall"
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
	all := firewall.Repair{Objects: 1 + 2 + 4*len(testJails)*2, Bans: len(want)}

	tests := []struct {
		name   string
		damage func(t *testing.T)
		want   firewall.Repair
	}{
		{"nothing missing", func(*testing.T) {}, firewall.Repair{}},
		{"ruleset flushed", func(t *testing.T) { ns.nft(t, "flush", "ruleset") }, all},
		{"one element deleted", func(t *testing.T) {
			ns.nft(t, "delete", "element", "inet", "warden", "addr4-sshd", "{ 192.0.2.7 }")
		}, firewall.Repair{Bans: 1}},
		{"network deleted", func(t *testing.T) {
			ns.nft(t, "delete", "element", "inet", "warden", "net4-web", "{ 198.51.100.0/24 }")
		}, firewall.Repair{Bans: 1}},
		{"set flushed", func(t *testing.T) { ns.nft(t, "flush", "set", "inet", "warden", "addr6-sshd") }, firewall.Repair{Bans: 1}},
		{"rule deleted", func(t *testing.T) {
			m := handleRe.FindStringSubmatch(ns.nft(t, "-a", "list", "chain", "inet", "warden", "input"))
			if m == nil {
				t.Fatal("rule for addr4-web not found")
			}
			ns.nft(t, "delete", "rule", "inet", "warden", "input", "handle", m[1])
		}, firewall.Repair{Objects: 1}},
		{"chain deleted", func(t *testing.T) {
			ns.nft(t, "delete", "chain", "inet", "warden", "forward")
		}, firewall.Repair{Objects: 1 + 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.damage(t)
			got, err := b.Check(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Check = %+v, want %+v", got, tc.want)
			}
			if got, err = b.Heal(ctx, want); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Heal = %+v, want %+v", got, tc.want)
			}
			if again, err := b.Check(ctx, want); err != nil || again != (firewall.Repair{}) {
				t.Errorf("Check after Heal = %+v, %v; want nothing missing", again, err)
			}
			after := volatile.ReplaceAllString(ns.nft(t, "list", "ruleset"), "")
			if after != before {
				t.Errorf("ruleset after Heal differs:\n--- after\n%s\n--- before\n%s", after, before)
			}
		})
	}
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
