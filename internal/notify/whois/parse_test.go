package whois

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseSpace(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.0 - 192.0.2.255", "192.0.2.0/24"},
		{"192.0.2.0-192.0.2.127", "192.0.2.0/25"},
		{"192.0.2.1 - 192.0.2.6", "192.0.2.1/32 192.0.2.2/31 192.0.2.4/31 192.0.2.6/32"},
		{"0.0.0.0 - 255.255.255.255", "0.0.0.0/0"},
		{"192.0.2.0/24, 198.51.100.0/25", "192.0.2.0/24 198.51.100.0/25"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"2001:db8:: - 2001:db8::ffff", "2001:db8::/112"},
		{"200.3.0/20", "200.3.0.0/20"},
		{"10/8", "10.0.0.0/8"},
		{"192.0.2.9 - 192.0.2.1", ""},
		{"192.0.2.0 - 2001:db8::", ""},
		{"N/A", ""},
		{"", ""},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range parseSpace(tt.in) {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("parseSpace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeServer(t *testing.T) {
	tests := []struct{ in, want string }{
		{"whois.iana.org", "whois.iana.org:43"},
		{"WHOIS.RIPE.NET:43", "whois.ripe.net:43"},
		{"whois.example:4343", "whois.example:4343"},
		{"192.0.2.43", "192.0.2.43:43"},
		{"2001:db8::43", "[2001:db8::43]:43"},
		{"[2001:db8::43]", "[2001:db8::43]:43"},
		{"[2001:db8::43]:4343", "[2001:db8::43]:4343"},
		{"whois.example:0", ""},
		{"whois.example:http", ""},
		{"evil host", ""},
		{"-bad.example", ""},
		{"a..b", ""},
		{"fe80::1%eth0", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := normalizeServer(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("normalizeServer(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestReferralTarget(t *testing.T) {
	tests := []struct{ in, want string }{
		{"whois.ripe.net", "whois.ripe.net:43"},
		{"whois://whois.afrinic.net", "whois.afrinic.net:43"},
		{"whois://whois.example.net:43/", "whois.example.net:43"},
		{"whois://whois.example.net:4343/", ""},
		{"whois://127.0.0.1", ""},
		{"10.1.2.3", ""},
		{"whois://[::1]:43", ""},
		{"whois://[fe80::1]", ""},
		{"203.0.113.43", "203.0.113.43:43"},
		{"WHOIS://Whois.Lacnic.Net", "whois.lacnic.net:43"},
		{"rwhois://rwhois.example.net:4321", ""},
		{"https://rdap.example.net/", ""},
		{"whois://a b", ""},
	}
	for _, tt := range tests {
		got, ok := referralTarget(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("referralTarget(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestNormalizeAS(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AS64496", "AS64496"},
		{"as64496", "AS64496"},
		{"64496", "AS64496"},
		{"AS64496, AS64497", "AS64496"},
		{"AS64496 AS64497", "AS64496"},
		{"N/A", ""},
		{"", ""},
		{"AS", ""},
		{"AS99999999999", ""},
	}
	for _, tt := range tests {
		if got := normalizeAS(tt.in); got != tt.want {
			t.Errorf("normalizeAS(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanField(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Example   Net  ", "Example Net"},
		{"a\r\nBcc: x", "a Bcc: x"},
		{"\x1b[31mred", "[31mred"},
		{"abc\u202edef", "abc def"},
		{"caf\xe9", "caf\uFFFD"},
		{"~!id", "~!id"},
		{strings.Repeat("x", 500), strings.Repeat("x", maxField)},
	}
	for _, tt := range tests {
		if got := cleanField(tt.in); got != tt.want {
			t.Errorf("cleanField(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanRaw(t *testing.T) {
	in := "a\r\n\tb\x1b[0m\x00c\u200e\xff\n"
	if got, want := cleanRaw([]byte(in)), "a\n\tb[0mc\uFFFD\n"; got != want {
		t.Errorf("cleanRaw = %q, want %q", got, want)
	}
}

func TestChooseNetworkPrefersMostSpecific(t *testing.T) {
	raw := "inetnum: 192.0.2.0 - 192.0.2.255\nnetname: WIDE\n\ninetnum: 192.0.2.64 - 192.0.2.127\nnetname: NARROW\n\n" +
		"inetnum: 192.0.2.0 - 192.0.2.127\nnetname: MIDDLE\n"
	for addr, want := range map[string]string{"192.0.2.70": "NARROW", "192.0.2.10": "MIDDLE", "192.0.2.200": "WIDE", "198.51.100.1": "MIDDLE"} {
		s, _ := summarize(parseAnswer(raw), netip.MustParseAddr(addr))
		if s.NetName != want {
			t.Errorf("%s: netname %q, want %q", addr, s.NetName, want)
		}
	}
}

// FuzzSummarize feeds arbitrary answers through the cleaning and parsing a
// lookup does, and checks what the callers rely on.
func FuzzSummarize(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "answers", "*.txt"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "198.51.100.7")
	}
	f.Add([]byte("netname: a\r\nb\x1b\xff\u202e~!\nrefer: whois://x.example:99/\n"), "2001:db8::1")
	f.Add([]byte("inetnum: 1.2.3/33\nCIDR: ,,,\nNetRange: 0.0.0.0 - ::\norigin: AS\n"), "0.0.0.0")
	f.Fuzz(func(t *testing.T, data []byte, addrText string) {
		addr, err := netip.ParseAddr(addrText)
		if err != nil {
			addr = netip.MustParseAddr("192.0.2.1")
		}
		raw := cleanRaw(data)
		if !utf8.ValidString(raw) {
			t.Fatal("raw not UTF-8")
		}
		for _, r := range raw {
			if r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
				t.Fatalf("raw holds %U", r)
			}
		}
		a := parseAnswer(raw)
		if a.referral != "" {
			if again, ok := normalizeServer(a.referral); !ok || again != a.referral {
				t.Fatalf("referral %q is not normal", a.referral)
			}
		}
		s, match := summarize(a, addr)
		for _, v := range []string{s.NetName, s.Country, s.Org, s.AS, s.Abuse} {
			if !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxField || strings.TrimSpace(v) != v {
				t.Fatalf("bad field %q", v)
			}
			if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) {
				t.Fatalf("field %q holds a control character", v)
			}
		}
		if match.IsValid() && !match.Contains(addr) {
			t.Fatalf("network %v does not hold %v", match, addr)
		}
		if s.CIDR != "" && len(strings.Split(s.CIDR, ", ")) > maxPrefixes {
			t.Fatalf("too many prefixes: %q", s.CIDR)
		}
	})
}
