package server

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"warden/internal/control"
)

// fakeBans is a banLister over a fixed set of one jail's bans.
type fakeBans []netip.Prefix

func (f fakeBans) IsBanned(_ string, p netip.Prefix) bool { return slices.Contains(f, p) }
func (f fakeBans) Banned(string) ([]netip.Prefix, error)  { return f, nil }

func TestOverlapping(t *testing.T) {
	bans := fakeBans{
		netip.MustParsePrefix("2001:db8:1:2::/64"),
		netip.MustParsePrefix("2001:db8:9::1/128"),
		netip.MustParsePrefix("2001:db8:9::/48"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("198.51.100.0/24"),
	}
	tests := []struct {
		q    string
		want []string
	}{
		{"2001:db8:1:2::99", []string{"2001:db8:1:2::/64"}},
		{"2001:db8:1:2::/64", []string{"2001:db8:1:2::/64"}},
		{"2001:db8:1:2::/80", []string{"2001:db8:1:2::/64"}},
		{"2001:db8:1::/48", []string{"2001:db8:1:2::/64"}}, // the ban inside the network
		{"2001:db8:1:3::1", nil},
		{"2001:db8:9::1", []string{"2001:db8:9::1/128", "2001:db8:9::/48"}}, // narrowest first
		{"192.0.2.7", []string{"192.0.2.7/32"}},
		{"192.0.2.8", nil},
		{"198.51.100.200", []string{"198.51.100.0/24"}},
		{"::ffff:198.51.100.1", []string{"198.51.100.0/24"}},
		{"198.51.0.0/16", []string{"198.51.100.0/24"}},
	}
	for _, tt := range tests {
		q, err := control.ParseTarget(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range overlapping(bans, "j", q) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("overlapping %s = %q, want %q", tt.q, got, tt.want)
		}
	}
}

// TestPrefixStrings: "get JAIL banip" and the status lists write a ban
// alike, and as an action's <ip> names it.
func TestPrefixStrings(t *testing.T) {
	ps := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::1/128"),
		netip.MustParsePrefix("2001:db8:1:2::/64"), netip.MustParsePrefix("198.51.100.0/24"),
	}
	want := []string{"192.0.2.7", "2001:db8::1", "2001:db8:1:2::/64", "198.51.100.0/24"}
	if got := prefixStrings(ps); !slices.Equal(got, want) {
		t.Errorf("prefixStrings = %q, want %q", got, want)
	}
	for i, tg := range control.Targets(ps) {
		if tg.String() != want[i] {
			t.Errorf("control.Target of %v = %q, want %q", ps[i], tg, want[i])
		}
	}
}

// TestPrefixBanControl drives the control commands against a running
// server whose jail bans /64s: every list shows the network, an address
// inside it finds and lifts it, and the network itself can be unbanned.
func TestPrefixBanControl(t *testing.T) {
	c, logPath, record := runtimeServer(t, "banprefix6 = 64\nbanprefix.count = true\n")
	ctx := context.Background()
	appendLines(t, logPath, "login failed from 2001:db8:1:2::1", "login failed from 2001:db8:1:2::2", "login failed from 2001:db8:1:2::1")
	waitUntil(t, "the /64 is banned", func() bool {
		b, _ := os.ReadFile(record)
		return strings.Contains(string(b), "ban 2001:db8:1:2::/64\n")
	})
	if _, err := c.BanIP(ctx, "app", netip.MustParseAddr("192.0.2.7")); err != nil {
		t.Fatal(err)
	}
	run := func(words ...string) string {
		t.Helper()
		cmd, err := control.ParseCommand(words)
		if err != nil {
			t.Fatalf("%q: %v", words, err)
		}
		raw, err := c.Call(ctx, words)
		if err != nil {
			t.Fatalf("%q: %v", words, err)
		}
		out, err := control.Format(cmd, raw)
		if err != nil {
			t.Fatalf("%q: %v", words, err)
		}
		return out
	}
	steps := []struct {
		words []string
		want  string
	}{
		{[]string{"banned"}, "[{'app': ['2001:db8:1:2::/64', '192.0.2.7']}]"},
		{[]string{"banned", "2001:db8:1:2::77", "2001:db8:1:3::1", "192.0.2.7"}, "[['app'], [], ['app']]"},
		{[]string{"get", "app", "banip"}, "2001:db8:1:2::/64 192.0.2.7"},
		// fail2ban answers one address with 1 or 0, several with a list
		{[]string{"get", "app", "banned", "2001:db8:1:2::77", "2001:db8:1:3::1", "2001:db8:1:2::/64"}, "[1, 0, 1]"},
		{[]string{"get", "app", "banned", "192.0.2.7"}, "1"},
		{[]string{"get", "app", "banned", "192.0.2.8"}, "0"},
		{[]string{"set", "app", "unbanip", "2001:db8:1:2::77"}, "1"},
		{[]string{"get", "app", "banip"}, "192.0.2.7"},
		{[]string{"set", "app", "banip", "2001:db8:1:2::/64"}, "1"},
		{[]string{"set", "app", "unbanip", "2001:db8:1:2::/64"}, "1"},
		{[]string{"set", "app", "banip", "2001:db8:1:2::/64"}, "1"},
		{[]string{"unban", "2001:db8:1:2::5"}, "1"},
		{[]string{"set", "app", "unbanip", "2001:db8:1:2::5"}, "0"},
		{[]string{"get", "app", "banip"}, "192.0.2.7"},
	}
	for i, s := range steps {
		if i == 0 {
			st := run("status", "app")
			if !strings.Contains(st, "`- Banned IP list:\t2001:db8:1:2::/64 192.0.2.7") {
				t.Errorf("status app:\n%s\nwant the /64 in the banned list", st)
			}
		}
		if got := run(s.words...); got != s.want {
			t.Errorf("%q = %q, want %q", s.words, got, s.want)
		}
	}
	_, err := c.UnbanIP(ctx, "app", true, netip.MustParseAddr("2001:db8:1:2::5"))
	if !errors.Is(err, control.ErrBadArgs) {
		t.Errorf("unbanip --report-absent of an address in no ban: err = %v, want ErrBadArgs", err)
	}
}
