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

func TestTimeoutFor(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		exp  time.Time
		want int64
	}{
		{time.Time{}, 0},
		{now.Add(time.Hour), 3600},
		{now.Add(1500 * time.Millisecond), 2},
		{now.Add(-time.Hour), 1},
		{now.Add(365 * 24 * time.Hour), 0}, // beyond the kernel's limit
		{now.Add(maxTimeout * time.Second), maxTimeout},
	}
	for _, tc := range tests {
		if got := timeoutFor(tc.exp, now); got != tc.want {
			t.Errorf("timeoutFor(now+%v) = %d, want %d", tc.exp.Sub(now), got, tc.want)
		}
	}
}

func TestParseSave(t *testing.T) {
	ours := func(n string) bool { return ownedSet("wfd", n) }
	in := `create other hash:ip family inet hashsize 1024 maxelem 65536
add other 10.0.0.1
create wfd4-ssh hash:net family inet hashsize 4096 maxelem 1048576 timeout 0 bucketsize 12 initval 0x1
add wfd4-ssh 192.0.2.9 timeout 0
add wfd4-ssh 198.51.100.0/24 timeout 3599
create wfd6-ssh hash:net family inet6 hashsize 4096 maxelem 1048576 timeout 0
add wfd6-ssh 2001:db8::1 timeout 12
`
	sets, err := parseSave(strings.NewReader(in), ours)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || sets["other"] != nil {
		t.Fatalf("sets %v, want our two", sets)
	}
	v4, v6 := sets["wfd4-ssh"], sets["wfd6-ssh"]
	if v4.v6 || !v6.v6 {
		t.Error("families wrong")
	}
	want4 := map[netip.Prefix]int64{netip.MustParsePrefix("192.0.2.9/32"): 0, netip.MustParsePrefix("198.51.100.0/24"): 3599}
	if len(v4.elems) != 2 || v4.elems[netip.MustParsePrefix("192.0.2.9/32")] != 0 ||
		v4.elems[netip.MustParsePrefix("198.51.100.0/24")] != want4[netip.MustParsePrefix("198.51.100.0/24")] {
		t.Errorf("v4 elements %v, want %v", v4.elems, want4)
	}
	if v6.elems[netip.MustParsePrefix("2001:db8::1/128")] != 12 {
		t.Errorf("v6 elements %v", v6.elems)
	}

	bad := []struct{ name, in, want string }{
		{"unknown command", "flush wfd4-ssh x\n", "line 1: unknown command"},
		{"bad entry", "create wfd4-a hash:net family inet\nadd wfd4-a nonsense\n", "line 2: entry"},
		{"bad timeout", "create wfd4-a hash:net family inet\nadd wfd4-a 1.2.3.4 timeout -3\n", "line 2: timeout"},
		{"element first", "add wfd4-a 1.2.3.4\n", "line 1: element of set"},
		{"short", "create\n", "line 1"},
	}
	for _, tc := range bad {
		if _, err := parseSave(strings.NewReader(tc.in), ours); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseSave(f *testing.F) {
	f.Add("create wfd4-ssh hash:net family inet timeout 0\nadd wfd4-ssh 192.0.2.9 timeout 0\n")
	f.Add("create wfd6-x hash:net family inet6\nadd wfd6-x 2001:db8::/32 timeout 5\n")
	f.Add("add other 1.2.3.4\n")
	f.Fuzz(func(t *testing.T, in string) {
		sets, err := parseSave(strings.NewReader(in), func(n string) bool { return ownedSet("wfd", n) })
		if err != nil {
			return
		}
		for name, s := range sets {
			if !ownedSet("wfd", name) {
				t.Fatalf("kept foreign set %q", name)
			}
			for p, to := range s.elems {
				if !p.IsValid() || p != p.Masked() || to < 0 {
					t.Fatalf("bad element %v timeout %d", p, to)
				}
			}
		}
	})
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
