package firewalld

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
)

// pr is a port range, keyed for go vet.
func pr(first, last uint16) firewall.PortRange { return firewall.PortRange{First: first, Last: last} }

func TestSetName(t *testing.T) {
	long1 := strings.Repeat("a", 40) + "x"
	long2 := strings.Repeat("a", 40) + "y"
	tests := []struct {
		jail string
		v6   bool
		want string
	}{
		{"sshd", false, "wfd4-sshd"},
		{"sshd", true, "wfd6-sshd"},
		{strings.Repeat("j", 26), false, "wfd4-" + strings.Repeat("j", 26)}, // exactly 31
	}
	for _, tc := range tests {
		if got := setName("wfd", tc.jail, tc.v6); got != tc.want {
			t.Errorf("setName(%q, %v) = %q, want %q", tc.jail, tc.v6, got, tc.want)
		}
	}
	a, b := setName("wfd", long1, false), setName("wfd", long2, false)
	if len(a) > maxSetName || len(b) > maxSetName {
		t.Errorf("long names not shortened: %q (%d), %q (%d)", a, len(a), b, len(b))
	}
	if a == b {
		t.Errorf("two long jails share set %q", a)
	}
	if !ownedSet("wfd", a) || !ownedSet("wfd", setName("wfd", long1, true)) || ownedSet("wfd", "f2b-sshd") {
		t.Error("ownedSet does not recognise our names")
	}
}

func TestJailRules(t *testing.T) {
	tests := []struct {
		name string
		spec firewall.JailSpec
		want []string
	}{
		{"multiport reject", firewall.JailSpec{Name: "ssh", Ports: []firewall.PortRange{pr(22, 22)}, Protocols: []string{"tcp"}}, []string{
			"ipv4 filter INPUT_direct 0 -p tcp -m multiport --dports 22 -m set --match-set wfd4-ssh src -j REJECT --reject-with icmp-port-unreachable",
			"ipv6 filter INPUT_direct 0 -p tcp -m multiport --dports 22 -m set --match-set wfd6-ssh src -j REJECT --reject-with icmp6-port-unreachable",
		}},
		{"allports drop forward", firewall.JailSpec{Name: "all", BlockType: "drop", Chain: "forward"}, []string{
			"ipv4 filter FORWARD_direct 0 -m set --match-set wfd4-all src -j DROP",
			"ipv6 filter FORWARD_direct 0 -m set --match-set wfd6-all src -j DROP",
		}},
		{"protocols without ports", firewall.JailSpec{Name: "dns", Protocols: []string{"udp", "tcp"}, BlockType: "drop"}, []string{
			"ipv4 filter INPUT_direct 0 -p tcp -m set --match-set wfd4-dns src -j DROP",
			"ipv4 filter INPUT_direct 0 -p udp -m set --match-set wfd4-dns src -j DROP",
			"ipv6 filter INPUT_direct 0 -p tcp -m set --match-set wfd6-dns src -j DROP",
			"ipv6 filter INPUT_direct 0 -p udp -m set --match-set wfd6-dns src -j DROP",
		}},
	}
	for _, tc := range tests {
		spec, err := tc.spec.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range jailRules("wfd", spec) {
			got = append(got, r.String())
			if r.matchSet() == "" {
				t.Errorf("%s: rule %s: matchSet found nothing", tc.name, r)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// TestEndedBans: a ban that has ended goes into no set (Ban, Heal) and is
// not missing from one (Check); a ban longer than the kernel's limit gets
// the longest timeout.
func TestEndedBans(t *testing.T) {
	b := &Backend{prefix: "wfd", jails: map[string]firewall.JailSpec{"ssh": {Name: "ssh"}}, order: []string{"ssh"}}
	now := time.Now()
	bans := []firewall.Ban{
		{Jail: "ssh", Prefix: netip.MustParsePrefix("192.0.2.1/32"), Expires: now.Add(-time.Second)},
		{Jail: "ssh", Prefix: netip.MustParsePrefix("192.0.2.2/32"), Expires: now.Add(time.Hour)},
		{Jail: "ssh", Prefix: netip.MustParsePrefix("2001:db8::/64"), Expires: now.Add(365 * 24 * time.Hour)},
		{Jail: "ssh", Prefix: netip.MustParsePrefix("192.0.2.3/32")},
	}
	got := string(b.appendAdds(nil, bans, now))
	want := "add wfd4-ssh 192.0.2.2 timeout 3600 -exist\n" +
		"add wfd6-ssh 2001:db8::/64 timeout 2147483 -exist\n" +
		"add wfd4-ssh 192.0.2.3 timeout 0 -exist\n"
	if got != want {
		t.Errorf("appendAdds:\n%s\nwant\n%s", got, want)
	}
	missing := b.lacking(bans, nil)
	if len(missing) != 3 || slices.ContainsFunc(missing, func(ban firewall.Ban) bool { return ban.Prefix == bans[0].Prefix }) {
		t.Errorf("lacking from no sets = %v, want every ban but the ended one", missing)
	}
}

// TestValidation checks that nothing invalid reaches ipset or firewalld:
// a backend whose ipset command cannot run would report that instead.
func TestValidation(t *testing.T) {
	b := &Backend{prefix: "wfd", ipset: []string{"/nonexistent/ipset"}, jails: map[string]firewall.JailSpec{"ssh": {Name: "ssh"}}, order: []string{"ssh"}}
	ctx := t.Context()
	tests := []struct {
		name string
		ban  firewall.Ban
		want error
	}{
		{"unspecified", firewall.Ban{Jail: "ssh", Prefix: netip.MustParsePrefix("0.0.0.0/32")}, firewall.ErrInvalidAddress},
		{"everything", firewall.Ban{Jail: "ssh", Prefix: netip.MustParsePrefix("::/0")}, firewall.ErrInvalidAddress},
		{"multicast", firewall.Ban{Jail: "ssh", Prefix: netip.MustParsePrefix("224.0.0.1/32")}, firewall.ErrInvalidAddress},
		{"zero prefix", firewall.Ban{Jail: "ssh"}, firewall.ErrInvalidAddress},
		{"bad jail name", firewall.Ban{Jail: "a b", Prefix: netip.MustParsePrefix("192.0.2.1/32")}, firewall.ErrInvalidJail},
		{"unknown jail", firewall.Ban{Jail: "web", Prefix: netip.MustParsePrefix("192.0.2.1/32")}, firewall.ErrUnknownJail},
	}
	for _, tc := range tests {
		if err := b.Ban(ctx, []firewall.Ban{tc.ban}); !errors.Is(err, tc.want) {
			t.Errorf("Ban %s: %v, want %v", tc.name, err, tc.want)
		}
		if err := b.Unban(ctx, []firewall.Ban{tc.ban}); !errors.Is(err, tc.want) {
			t.Errorf("Unban %s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// A valid ban does reach the (missing) tool.
	err := b.Ban(ctx, []firewall.Ban{{Jail: "ssh", Prefix: netip.MustParsePrefix("::ffff:192.0.2.1/128")}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/ipset") {
		t.Errorf("valid ban: %v, want the ipset tool's failure", err)
	}
}
