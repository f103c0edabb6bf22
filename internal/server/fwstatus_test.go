package server

import (
	"fmt"
	"net/netip"
	"testing"

	"warden/internal/firewall"
)

func TestCompareBans(t *testing.T) {
	b := func(jail, p string) firewall.Ban { return firewall.Ban{Jail: jail, Prefix: netip.MustParsePrefix(p)} }
	tests := []struct {
		name       string
		jails      []string
		want, have []firewall.Ban
		out        string
	}{
		{"all in place", []string{"a"}, []firewall.Ban{b("a", "192.0.2.1/32")}, []firewall.Ban{b("a", "192.0.2.1/32")},
			"[{a 1 1 [] []}]"},
		{"missing and extra", []string{"a"}, []firewall.Ban{b("a", "192.0.2.1/32"), b("a", "2001:db8::/64")}, []firewall.Ban{b("a", "192.0.2.9/32")},
			"[{a 1 2 [192.0.2.1/32 2001:db8::/64] [192.0.2.9/32]}]"},
		{"other jails ignored, empty jail listed", []string{"a", "b"}, []firewall.Ban{b("c", "192.0.2.1/32")}, []firewall.Ban{b("b", "192.0.2.2/32")},
			"[{a 0 0 [] []} {b 1 0 [] [192.0.2.2/32]}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jails := map[string]bool{}
			for _, j := range tt.jails {
				jails[j] = true
			}
			if got := fmt.Sprint(compareBans(jails, tt.want, tt.have)); got != tt.out {
				t.Errorf("got  %s\nwant %s", got, tt.out)
			}
		})
	}
	var many []firewall.Ban
	for i := range 50 {
		many = append(many, b("a", fmt.Sprintf("192.0.2.%d/32", i)))
	}
	if got := compareBans(map[string]bool{"a": true}, many, nil)[0]; got.Wanted != 50 || len(got.Missing) != 20 {
		t.Errorf("wanted %d, %d missing listed; want 50, 20 (capped)", got.Wanted, len(got.Missing))
	}
}
