package control

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// target parses a test's address or network, failing loudly.
func target(s string) Target {
	p, err := ParseTarget(s)
	if err != nil {
		panic(err)
	}
	return TargetOf(p)
}

func TestTargetText(t *testing.T) {
	tests := []struct {
		in   netip.Prefix
		want string
	}{
		{netip.MustParsePrefix("192.0.2.1/32"), "192.0.2.1"},
		{netip.MustParsePrefix("2001:db8::1/128"), "2001:db8::1"},
		{netip.MustParsePrefix("2001:db8:1:2::/64"), "2001:db8:1:2::/64"},
		{netip.MustParsePrefix("2001:db8:1:2:3::9/64"), "2001:db8:1:2::/64"}, // host bits cleared
		{netip.MustParsePrefix("198.51.100.77/24"), "198.51.100.0/24"},
		{netip.Prefix{}, ""},
	}
	for _, tt := range tests {
		tg := TargetOf(tt.in)
		if got := tg.String(); got != tt.want {
			t.Errorf("TargetOf(%v).String() = %q, want %q", tt.in, got, tt.want)
		}
		b, err := json.Marshal(tg)
		if err != nil || string(b) != `"`+tt.want+`"` {
			t.Errorf("json of %v = %s, %v; want %q", tt.in, b, err, tt.want)
		}
		var back Target
		if err := json.Unmarshal(b, &back); err != nil || back != tg {
			t.Errorf("json %s reads back as %v, %v; want %v", b, back, err, tg)
		}
	}
	if err := json.Unmarshal([]byte(`"not an address"`), new(Target)); !errors.Is(err, ErrBadAddress) {
		t.Errorf("unmarshal of a bad target: err = %v, want ErrBadAddress", err)
	}
}

func TestTargetCovers(t *testing.T) {
	tests := []struct {
		t, q string
		want bool
	}{
		{"2001:db8:1:2::/64", "2001:db8:1:2::5", true},
		{"2001:db8:1:2::/64", "2001:db8:1:2::/64", true},
		{"2001:db8:1:2::/64", "2001:db8:1:2::/80", true},
		{"2001:db8:1:2::/64", "2001:db8:1::/48", false}, // wider than the ban
		{"2001:db8:1:2::/64", "2001:db8:1:3::1", false},
		{"192.0.2.7", "192.0.2.7", true},
		{"192.0.2.7", "192.0.2.8", false},
		{"192.0.2.0/24", "2001:db8::1", false},
	}
	for _, tt := range tests {
		q, err := ParseTarget(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := target(tt.t).Covers(q); got != tt.want {
			t.Errorf("%s covers %s = %v, want %v", tt.t, tt.q, got, tt.want)
		}
	}
}

// TestPrefixBansRoundTrip: a prefix ban is listed as its network by
// status, banned and get banip (also as JSON), an address inside it finds
// it, and unbanip lifts it given either the network or an address in it.
func TestPrefixBansRoundTrip(t *testing.T) {
	f := newFakeHandler()
	f.jails["sshd"].bans = []Target{target("192.0.2.7"), target("2001:db8:1:2::/64")}
	c := dial(t, startServer(t, f, ServeOptions{}))
	ctx := testCtx(t)
	run := func(words ...string) string {
		t.Helper()
		cmd, err := ParseCommand(words)
		if err != nil {
			t.Fatalf("%q: %v", words, err)
		}
		raw, err := c.Call(ctx, words)
		if err != nil {
			t.Fatalf("%q: %v", words, err)
		}
		out, err := Format(cmd, raw)
		if err != nil {
			t.Fatalf("%q: %v", words, err)
		}
		return out
	}
	steps := []struct {
		words []string
		want  string // the printed answer, or for status a line of it
	}{
		{[]string{"status", "sshd"}, "`- Banned IP list:\t192.0.2.7 2001:db8:1:2::/64"},
		{[]string{"banned"}, "[{'nginx': []}, {'sshd': ['192.0.2.7', '2001:db8:1:2::/64']}]"},
		{[]string{"banned", "2001:db8:1:2::99", "2001:db8:1:3::1", "192.0.2.7"}, "[['sshd'], [], ['sshd']]"},
		{[]string{"get", "sshd", "banip"}, "192.0.2.7 2001:db8:1:2::/64"},
		{[]string{"get", "sshd", "banned", "2001:db8:1:2::99", "2001:db8:1:3::1"}, "[1, 0]"},
		{[]string{"set", "sshd", "unbanip", "2001:db8:1:2::99"}, "1"},
		{[]string{"banned"}, "[{'nginx': []}, {'sshd': ['192.0.2.7']}]"},
		{[]string{"set", "sshd", "banip", "2001:db8:1:2::/64"}, "1"},
		{[]string{"set", "sshd", "unbanip", "2001:db8:1:2::/64"}, "1"},
		{[]string{"get", "sshd", "banip"}, "192.0.2.7"},
	}
	for _, s := range steps {
		got := run(s.words...)
		if s.words[0] == "status" {
			if !strings.Contains(got, s.want) {
				t.Errorf("%q:\n%s\nwant a line %q", s.words, got, s.want)
			}
			continue
		}
		if got != s.want {
			t.Errorf("%q = %q, want %q", s.words, got, s.want)
		}
	}

	f.jails["sshd"].bans = append(f.jails["sshd"].bans, target("198.51.100.0/24"))
	raw, err := c.Call(ctx, []string{"status", "sshd"})
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		BannedIPs []string `json:"banned_ips"`
	}
	if err := json.Unmarshal(raw, &js); err != nil || strings.Join(js.BannedIPs, " ") != "192.0.2.7 198.51.100.0/24" {
		t.Errorf("status JSON = %s (%v); want banned_ips [192.0.2.7 198.51.100.0/24]", raw, err)
	}
	raw, err = c.Call(ctx, []string{"banned", "198.51.100.9"})
	if err != nil || !strings.Contains(string(raw), `"ips":["198.51.100.0/24"]`) {
		t.Errorf("banned JSON = %s, %v; want sshd's /24", raw, err)
	}
}
