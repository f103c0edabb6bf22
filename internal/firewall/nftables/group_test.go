package nftables

import (
	"slices"
	"testing"
	"time"

	"warden/internal/firewall"
)

// TestGroupsLeaveInputAlone checks groupIn and liveGroups: every live ban
// lands in its set's list in input order, expired ones are dropped, and
// the caller's slice (which the lists may share, see
// firewall.NormalizeBans) is never changed.
func TestGroupsLeaveInputAlone(t *testing.T) {
	jails, _ := firewall.IndexJails(testJails)
	hour, past := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	b := func(jail, p string, exp time.Time) firewall.Ban {
		return firewall.Ban{Jail: jail, Prefix: mustPrefix(p), Expires: exp}
	}
	v4 := setRef{"sshd", setKind{}}
	v6 := setRef{"sshd", setKind{v6: true}}
	web := setRef{"web", setKind{net: true}}
	for _, tc := range []struct {
		name string
		in   []firewall.Ban
		want map[setRef][]int // live bans of each set, as positions in in
	}{
		{"one set", []firewall.Ban{b("sshd", "192.0.2.1/32", hour), b("sshd", "192.0.2.2/32", hour)},
			map[setRef][]int{v4: {0, 1}}},
		{"one set, expired first", []firewall.Ban{b("sshd", "192.0.2.1/32", past), b("sshd", "192.0.2.2/32", hour), b("sshd", "192.0.2.3/32", past), b("sshd", "192.0.2.4/32", time.Time{})},
			map[setRef][]int{v4: {1, 3}}},
		{"runs by set", []firewall.Ban{b("sshd", "192.0.2.1/32", hour), b("sshd", "192.0.2.2/32", past), b("sshd", "2001:db8::1/128", hour), b("web", "198.51.100.0/24", hour)},
			map[setRef][]int{v4: {0}, v6: {2}, web: {3}}},
		{"sets interleaved", []firewall.Ban{b("sshd", "192.0.2.1/32", hour), b("sshd", "2001:db8::1/128", past), b("sshd", "192.0.2.2/32", hour), b("sshd", "2001:db8::2/128", hour)},
			map[setRef][]int{v4: {0, 2}, v6: {3}}},
		{"all expired", []firewall.Ban{b("sshd", "192.0.2.1/32", past)}, map[setRef][]int{v4: nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.in)
			groups, err := liveGroups(jails, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tc.in, before) {
				t.Fatalf("liveGroups changed its input:\n%v\nwas\n%v", tc.in, before)
			}
			if len(groups) != len(tc.want) {
				t.Errorf("%d sets, want %d: %v", len(groups), len(tc.want), groups)
			}
			for ref, pos := range tc.want {
				var want []firewall.Ban
				for _, i := range pos {
					want = append(want, tc.in[i])
				}
				if got := groups[ref]; !slices.Equal(got, want) {
					t.Errorf("set %v: %v, want %v", ref, got, want)
				}
				// Appending to one list must not write into another's
				// or the input's elements.
				_ = append(groups[ref], firewall.Ban{Jail: "x"})
			}
			if !slices.Equal(tc.in, before) {
				t.Fatal("appending to a set's list changed the input")
			}
		})
	}
}

// TestKeepOnly checks the filter used where a list may share the caller's
// array.
func TestKeepOnly(t *testing.T) {
	in := []firewall.Ban{{Jail: "a"}, {Jail: "b"}, {Jail: "c"}, {Jail: "b"}}
	before := slices.Clone(in)
	notB := func(b firewall.Ban) bool { return b.Jail != "b" }
	for _, tc := range []struct {
		keep   func(firewall.Ban) bool
		want   []string
		shared bool
	}{
		{func(firewall.Ban) bool { return true }, []string{"a", "b", "c", "b"}, true},
		{notB, []string{"a", "c"}, false},
		{func(firewall.Ban) bool { return false }, nil, false},
	} {
		got := keepOnly(in, tc.keep)
		var names []string
		for _, b := range got {
			names = append(names, b.Jail)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("keepOnly = %v, want %v", names, tc.want)
		}
		if shared := len(got) > 0 && &got[0] == &in[0]; shared != tc.shared {
			t.Errorf("keepOnly %v: shares input %v, want %v", tc.want, shared, tc.shared)
		}
		if !slices.Equal(in, before) {
			t.Fatal("keepOnly changed its input")
		}
	}
}
