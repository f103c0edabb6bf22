package ipset

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"warden/internal/firewall"
)

// TestPlan checks which wanted bans a heal looks for, and that plan never
// changes want, whose array its list may share (firewall.NormalizeBans).
func TestPlan(t *testing.T) {
	jails := map[string]firewall.JailSpec{"sshd": {Name: "sshd"}, "web": {Name: "web", Networks: true}}
	types := map[string]string{
		SetName("sshd", false): typeHost, SetName("sshd", true): typeHost,
		SetName("web", false): typeNet, SetName("web", true): typeNet,
	}
	hour, past := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	b := func(jail, p string, exp time.Time) firewall.Ban {
		return firewall.Ban{Jail: jail, Prefix: netip.MustParsePrefix(p), Expires: exp}
	}
	for _, tc := range []struct {
		name   string
		want   []firewall.Ban
		live   []int // positions in want
		shared bool
	}{
		{"all live", []firewall.Ban{b("sshd", "192.0.2.1/32", hour), b("web", "198.51.100.0/24", time.Time{}), b("sshd", "2001:db8::1/128", hour)}, []int{0, 1, 2}, true},
		{"ended in the middle", []firewall.Ban{b("sshd", "192.0.2.1/32", hour), b("sshd", "192.0.2.2/32", past), b("sshd", "192.0.2.3/32", hour)}, []int{0, 2}, false},
		{"jail not installed first", []firewall.Ban{b("other", "192.0.2.1/32", hour), b("sshd", "192.0.2.1/32", hour)}, []int{1}, false},
		{"network in a host set", []firewall.Ban{b("sshd", "192.0.2.1/32", hour), b("sshd", "198.51.100.0/24", hour)}, []int{0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.want)
			r, err := plan(jails, types, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tc.want, before) {
				t.Fatalf("plan changed want:\n%v\nwas\n%v", tc.want, before)
			}
			var live []firewall.Ban
			count := map[string]int{}
			for _, i := range tc.live {
				live = append(live, tc.want[i])
				count[SetName(tc.want[i].Jail, tc.want[i].Prefix.Addr().Is6())]++
			}
			if !slices.Equal(r.live, live) {
				t.Errorf("live = %v, want %v", r.live, live)
			}
			if len(r.liveSets) != len(r.live) {
				t.Errorf("%d sets for %d bans", len(r.liveSets), len(r.live))
			}
			for i, ban := range r.live {
				if n := SetName(ban.Jail, ban.Prefix.Addr().Is6()); r.liveSets[i] != n {
					t.Errorf("ban %v in set %s, want %s", ban, r.liveSets[i], n)
				}
			}
			if len(r.count) != len(count) {
				t.Errorf("count = %v, want %v", r.count, count)
			}
			for n, c := range count {
				if r.count[n] != c {
					t.Errorf("count = %v, want %v", r.count, count)
				}
			}
			if shared := len(r.live) > 0 && &r.live[0] == &tc.want[0]; shared != tc.shared {
				t.Errorf("live shares want: %v, want %v", shared, tc.shared)
			}
		})
	}
}
