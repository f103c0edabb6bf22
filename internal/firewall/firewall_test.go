package firewall

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means rejected
	}{
		{"192.0.2.7/32", "192.0.2.7/32"},
		{"192.0.2.7/24", "192.0.2.0/24"},
		{"2001:db8::1/128", "2001:db8::1/128"},
		{"2001:db8::1/32", "2001:db8::/32"},
		{"::ffff:192.0.2.7/128", "192.0.2.7/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"::ffff:0:0/95", ""},
		{"127.0.0.1/32", "127.0.0.1/32"},
		{"fe80::1/128", "fe80::1/128"},
		{"0.0.0.0/32", ""},
		{"0.0.0.0/0", ""},
		{"10.0.0.0/0", ""},
		{"::/128", ""},
		{"::/0", ""},
		{"224.0.0.1/32", ""},
		{"ff02::1/128", ""},
		{"255.255.255.255/32", ""},
		{"255.255.255.0/24", "255.255.255.0/24"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ValidatePrefix(netip.MustParsePrefix(tc.in))
			if tc.want == "" {
				if !errors.Is(err, ErrInvalidAddress) {
					t.Fatalf("ValidatePrefix(%s) = %v, %v; want ErrInvalidAddress", tc.in, got, err)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("ValidatePrefix(%s) = %v, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := ValidatePrefix(netip.Prefix{}); !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("zero prefix: %v", err)
	}
	zoned := netip.PrefixFrom(netip.MustParseAddr("fe80::1%eth0"), 128)
	if got, err := ValidatePrefix(zoned); err != nil || got.String() != "fe80::1/128" {
		t.Errorf("zoned: %v, %v", got, err)
	}
}

func TestParseBanTarget(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":        "192.0.2.7/32",
		"2001:db8::7":      "2001:db8::7/128",
		"198.51.100.9/24":  "198.51.100.0/24",
		"::ffff:192.0.2.1": "192.0.2.1/32",
		"not-an-ip":        "",
		"192.0.2.7/33":     "",
		"0.0.0.0":          "",
		"":                 "",
	} {
		got, err := ParseBanTarget(in)
		if want == "" {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Errorf("ParseBanTarget(%q) = %v, %v; want ErrInvalidAddress", in, got, err)
			}
			continue
		}
		if err != nil || got.String() != want {
			t.Errorf("ParseBanTarget(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}

func FuzzParseBanTarget(f *testing.F) {
	for _, s := range []string{"192.0.2.7", "2001:db8::/32", "::ffff:1.2.3.4/100", "fe80::1%lo", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParseBanTarget(in)
		if err != nil {
			return
		}
		if p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" || p.Bits() == 0 {
			t.Fatalf("ParseBanTarget(%q) = %v is not canonical", in, p)
		}
		if again, err := ValidatePrefix(p); err != nil || again != p {
			t.Fatalf("not idempotent: %v, %v", again, err)
		}
	})
}

func TestNormalizeBans(t *testing.T) {
	t1 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	p := netip.MustParsePrefix
	got, err := NormalizeBans([]Ban{
		{Jail: "sshd", Prefix: p("192.0.2.7/32"), Expires: t1},
		{Jail: "web", Prefix: p("192.0.2.7/32"), Expires: t1},
		{Jail: "sshd", Prefix: p("::ffff:192.0.2.7/128"), Expires: t2},
		{Jail: "sshd", Prefix: p("198.51.100.1/24"), Expires: t2},
		{Jail: "sshd", Prefix: p("198.51.100.0/24")},
		{Jail: "sshd", Prefix: p("198.51.100.0/24"), Expires: t1},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Ban{
		{Jail: "sshd", Prefix: p("192.0.2.7/32"), Expires: t2},
		{Jail: "web", Prefix: p("192.0.2.7/32"), Expires: t1},
		{Jail: "sshd", Prefix: p("198.51.100.0/24")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NormalizeBans =\n%v\nwant\n%v", got, want)
	}
	if _, err := NormalizeBans([]Ban{{Jail: "bad jail", Prefix: p("192.0.2.7/32")}}); !errors.Is(err, ErrInvalidJail) {
		t.Errorf("bad jail: %v", err)
	}
	if _, err := NormalizeBans([]Ban{{Jail: "sshd", Prefix: p("224.0.0.1/32")}}); !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("multicast: %v", err)
	}
}

func TestBanString(t *testing.T) {
	b := Ban{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.7/32")}
	if s := b.String(); s != "sshd 192.0.2.7/32" {
		t.Errorf("got %q", s)
	}
	b.Expires = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if s := b.String(); s != "sshd 192.0.2.7/32 until 2030-01-02T03:04:05Z" {
		t.Errorf("got %q", s)
	}
}

func TestJailSpecNormalize(t *testing.T) {
	p := func(a, b uint16) PortRange { return PortRange{First: a, Last: b} }
	tests := []struct {
		name string
		in   JailSpec
		want JailSpec
		err  string // substring of the error; "" means success
	}{
		{"defaults", JailSpec{Name: "sshd"},
			JailSpec{Name: "sshd", Chain: "input", BlockType: "reject"}, ""},
		{"ports imply tcp", JailSpec{Name: "sshd", Ports: []PortRange{p(22, 22)}},
			JailSpec{Name: "sshd", Ports: []PortRange{p(22, 22)}, Protocols: []string{"tcp"}, Chain: "input", BlockType: "reject"}, ""},
		{"full range is all ports", JailSpec{Name: "x", Ports: []PortRange{p(0, 65535)}, Protocols: []string{"all"}},
			JailSpec{Name: "x", Chain: "input", BlockType: "reject"}, ""},
		{"protocols sorted and deduplicated", JailSpec{Name: "x", Protocols: []string{"UDP", "tcp", "udp"}, Chain: "FORWARD", BlockType: "DROP"},
			JailSpec{Name: "x", Protocols: []string{"tcp", "udp"}, Chain: "forward", BlockType: "drop"}, ""},
		{"ports merged", JailSpec{Name: "x", Ports: []PortRange{p(80, 80), p(22, 22), p(81, 90)}, Protocols: []string{"sctp"}},
			JailSpec{Name: "x", Ports: []PortRange{p(22, 22), p(80, 90)}, Protocols: []string{"sctp"}, Chain: "input", BlockType: "reject"}, ""},
		{"all with ports", JailSpec{Name: "x", Ports: []PortRange{p(22, 22)}, Protocols: []string{"all"}}, JailSpec{}, "cannot be limited"},
		{"unknown protocol", JailSpec{Name: "x", Protocols: []string{"icmp"}}, JailSpec{}, "unknown protocol"},
		{"bad chain", JailSpec{Name: "x", Chain: "output"}, JailSpec{}, "chain"},
		{"bad block", JailSpec{Name: "x", BlockType: "tarpit"}, JailSpec{}, "block type"},
		{"empty name", JailSpec{}, JailSpec{}, "empty name"},
		{"bad name", JailSpec{Name: "-x"}, JailSpec{}, "not allowed"},
		{"long name", JailSpec{Name: strings.Repeat("a", 65)}, JailSpec{}, "longer"},
		{"name with dots", JailSpec{Name: "nginx-http.auth_2"},
			JailSpec{Name: "nginx-http.auth_2", Chain: "input", BlockType: "reject"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Normalize()
			if tc.err != "" {
				if !errors.Is(err, ErrInvalidJail) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Normalize = %v, want ErrInvalidJail containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Normalize =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
	if _, err := NormalizeJails([]JailSpec{{Name: "a"}, {Name: "a"}}); !errors.Is(err, ErrInvalidJail) {
		t.Errorf("duplicate jails: %v", err)
	}
}

func TestProtocolNumber(t *testing.T) {
	for name, want := range map[string]uint8{"tcp": 6, "udp": 17, "sctp": 132, "udplite": 136, "dccp": 33} {
		if got, ok := ProtocolNumber(name); !ok || got != want {
			t.Errorf("ProtocolNumber(%q) = %d, %v", name, got, ok)
		}
	}
	if _, ok := ProtocolNumber("icmp"); ok {
		t.Error("icmp should not be a port protocol")
	}
}

func TestIndexJails(t *testing.T) {
	jails := []JailSpec{{Name: "sshd", BlockType: "drop"}, {Name: "web"}, {Name: "recidive"}}
	byName, order := IndexJails(jails)
	if want := []string{"sshd", "web", "recidive"}; !slices.Equal(order, want) {
		t.Errorf("order %q, want %q", order, want)
	}
	if len(byName) != 3 || byName["sshd"].BlockType != "drop" || byName["web"].Name != "web" {
		t.Errorf("byName %+v", byName)
	}
	if byName, order := IndexJails(nil); len(byName) != 0 || len(order) != 0 || byName == nil {
		t.Errorf("IndexJails(nil) = %v, %v; want an empty, usable map", byName, order)
	}
}
