package ipset

import (
	"strings"
	"testing"

	"warden/internal/firewall"
)

func TestSetName(t *testing.T) {
	long := "a-very-long-jail-name-for-the-web-server"
	for _, tc := range []struct {
		jail string
		v6   bool
		want string
	}{
		{"sshd", false, "f2b-sshd"},
		{"sshd", true, "f2b-sshd6"},
		{"exactly-twenty-six-chars-x", false, "f2b-exactly-twenty-six-chars-x"}, // 30
		{"exactly-twenty-six-chars-x", true, "f2b-exactly-twenty-six-chars-x6"}, // 31
	} {
		got := SetName(tc.jail, tc.v6)
		if len(got) > maxSetName {
			t.Errorf("SetName(%q, %v) = %q: %d characters", tc.jail, tc.v6, got, len(got))
		}
		if got != tc.want {
			t.Errorf("SetName(%q, %v) = %q, want %q", tc.jail, tc.v6, got, tc.want)
		}
	}
	// Long names: cut, hashed, distinct per jail and family, and reversed
	// only through the installed jails.
	v4, v6 := SetName(long, false), SetName(long, true)
	other := SetName(long+"x", false)
	if len(v4) > maxSetName || len(v6) > maxSetName || v4 == v6 || v4 == other {
		t.Errorf("long names %q %q %q: too long or not distinct", v4, v6, other)
	}
	if v6 != v4+"6" {
		t.Errorf("v6 name %q is not the v4 name %q with 6", v6, v4)
	}
	// 27 characters would fit for IPv4 but not with IPv6's "6": both cut.
	if n := SetName("exactly-twenty-seven-chars-", false); !strings.Contains(n, "~") {
		t.Errorf("27-character jail kept whole as %q", n)
	}
	if !strings.HasPrefix(v4, "f2b-a-very-long-jail~") && !strings.HasPrefix(v4, "f2b-a-very-long-jail-") {
		t.Errorf("long name %q does not keep the jail's start", v4)
	}
	b, _ := New(Options{})
	for _, tc := range []struct {
		name string
		v6   bool
		jail string
		ok   bool
	}{
		{"f2b-sshd", false, "sshd", true},
		{"f2b-sshd6", true, "sshd", true},
		{"f2b-sshd6", false, "sshd6", true}, // family decides
		{"f2b-sshd", true, "", false},
		{"other", false, "", false},
		{"f2b-", false, "", false},
		{v4, false, "", false}, // hashed: unknown until installed
	} {
		jf, ok := b.ownerOf(tc.name, tc.v6)
		if ok != tc.ok || jf.jail != tc.jail {
			t.Errorf("ownerOf(%q, %v) = %q, %v; want %q, %v", tc.name, tc.v6, jf.jail, ok, tc.jail, tc.ok)
		}
	}
}

func pr(first, last uint16) firewall.PortRange { return firewall.PortRange{First: first, Last: last} }

func TestRulesFor(t *testing.T) {
	many := make([]firewall.PortRange, 0, 20)
	for p := uint16(1); p <= 14; p++ {
		many = append(many, pr(p*10, p*10))
	}
	many = append(many, pr(1000, 1010))
	for _, tc := range []struct {
		name string
		jail firewall.JailSpec
		v6   bool
		want []string
	}{
		{"ssh", firewall.JailSpec{Name: "sshd", Ports: []firewall.PortRange{pr(22, 22)}}, false, []string{
			`INPUT -p tcp -m multiport --dports 22 -m set --match-set f2b-sshd src -m comment --comment "warden:sshd" -j REJECT --reject-with icmp-port-unreachable`,
		}},
		{"ssh v6", firewall.JailSpec{Name: "sshd", Ports: []firewall.PortRange{pr(22, 22)}}, true, []string{
			`INPUT -p tcp -m multiport --dports 22 -m set --match-set f2b-sshd6 src -m comment --comment "warden:sshd" -j REJECT --reject-with icmp6-port-unreachable`,
		}},
		{"all ports drop forward", firewall.JailSpec{Name: "r", BlockType: "drop", Chain: "forward"}, false, []string{
			`FORWARD -m set --match-set f2b-r src -m comment --comment "warden:r" -j DROP`,
		}},
		{"named chain", firewall.JailSpec{Name: "d", ChainName: "DOCKER-USER", Ports: []firewall.PortRange{pr(443, 443)}}, true, []string{
			`DOCKER-USER -p tcp -m multiport --dports 443 -m set --match-set f2b-d6 src -m comment --comment "warden:d" -j REJECT --reject-with icmp6-port-unreachable`,
		}},
		{"protocol without ports", firewall.JailSpec{Name: "dns", Protocols: []string{"udp"}}, false, []string{
			`INPUT -p udp -m set --match-set f2b-dns src -m comment --comment "warden:dns" -j REJECT --reject-with icmp-port-unreachable`,
		}},
		{"two protocols, ranges", firewall.JailSpec{Name: "w", Protocols: []string{"udp", "tcp"}, Ports: []firewall.PortRange{pr(443, 443), pr(80, 80), pr(8080, 8090)}}, false, []string{
			`INPUT -p tcp -m multiport --dports 80,443,8080:8090 -m set --match-set f2b-w src -m comment --comment "warden:w" -j REJECT --reject-with icmp-port-unreachable`,
			`INPUT -p udp -m multiport --dports 80,443,8080:8090 -m set --match-set f2b-w src -m comment --comment "warden:w" -j REJECT --reject-with icmp-port-unreachable`,
		}},
		{"more than 15 port slots", firewall.JailSpec{Name: "m", Ports: many, BlockType: "drop"}, false, []string{
			`INPUT -p tcp -m multiport --dports 10,20,30,40,50,60,70,80,90,100,110,120,130,140 -m set --match-set f2b-m src -m comment --comment "warden:m" -j DROP`,
			`INPUT -p tcp -m multiport --dports 1000:1010 -m set --match-set f2b-m src -m comment --comment "warden:m" -j DROP`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := tc.jail.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rulesFor(j, tc.v6) {
				got = append(got, r.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseTerse(t *testing.T) {
	out := `Name: f2b-x
Type: hash:net
Revision: 7
Header: family inet hashsize 1024 maxelem 65536 timeout 0 bucketsize 12 initval 0x5e3e0543
Size in memory: 456
References: 2
Number of entries: 0

Name: f2b-x6
Type: hash:ip
Revision: 6
Header: family inet6 hashsize 1024 maxelem 1000 timeout 0 bucketsize 12 initval 0x989b4d91
Size in memory: 304
References: 0
Number of entries: 1
`
	sets, err := parseTerse([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]setInfo{"f2b-x": {typeNet, false, 2, 0}, "f2b-x6": {typeHost, true, 0, 1}}
	if len(sets) != len(want) || sets["f2b-x"] != want["f2b-x"] || sets["f2b-x6"] != want["f2b-x6"] {
		t.Errorf("parseTerse = %+v, want %+v", sets, want)
	}
	for _, bad := range []string{"Name f2b-x\n", "Name: a\nReferences: many\n"} {
		if _, err := parseTerse([]byte(bad)); err == nil {
			t.Errorf("parseTerse(%q) succeeded", bad)
		}
	}
}

func TestParseRules(t *testing.T) {
	out := `-P INPUT ACCEPT
-P FORWARD ACCEPT
-A INPUT -p tcp -m multiport --dports 22 -m set --match-set f2b-sshd src -m comment --comment "warden:sshd" -j REJECT --reject-with icmp-port-unreachable
-A INPUT -s 10.0.0.0/8 -j ACCEPT
-A INPUT -m comment --comment "someone else" -j ACCEPT
-A FORWARD -m set --match-set f2b-r src -m comment --comment "warden:r" -j DROP
-A INPUT -m comment --comment "warden:bad name" -j DROP
`
	got := parseRules([]byte(out))
	want := []ourRule{
		{rule{"INPUT", `-p tcp -m multiport --dports 22 -m set --match-set f2b-sshd src -m comment --comment "warden:sshd" -j REJECT --reject-with icmp-port-unreachable`}, "sshd"},
		{rule{"FORWARD", `-m set --match-set f2b-r src -m comment --comment "warden:r" -j DROP`}, "r"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("parseRules = %+v\nwant %+v", got, want)
	}
}

func FuzzParseTerse(f *testing.F) {
	f.Add("Name: a\nType: hash:ip\nHeader: family inet6\nReferences: 1\n\nName: b\n")
	f.Add("Name:\n\n\nReferences: x\n")
	f.Fuzz(func(t *testing.T, s string) {
		sets, err := parseTerse([]byte(s))
		if err == nil && len(sets) > strings.Count(s, "Name:") {
			t.Fatalf("%d sets from %d names in %q", len(sets), strings.Count(s, "Name:"), s)
		}
	})
}

func FuzzParseRules(f *testing.F) {
	f.Add(`-A INPUT -m set --match-set f2b-r src -m comment --comment "warden:r" -j DROP` + "\n")
	f.Add(`-A --comment "warden:` + "\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range parseRules([]byte(s)) {
			if firewall.ValidateJailName(r.jail) != nil || r.chain == "" || !strings.Contains(r.spec, comment(r.jail)) {
				t.Fatalf("bad rule %+v from %q", r, s)
			}
		}
	})
}
