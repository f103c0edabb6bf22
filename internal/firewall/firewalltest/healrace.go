package firewalltest

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"warden/internal/firewall"
)

// RaceBackend is what the heal race table drives: a backend that can heal.
type RaceBackend interface {
	firewall.Backend
	firewall.Healer
}

// RaceRig is one subtest's backend, fresh and not yet set up, with the
// hooks only the backend's own package can reach.
type RaceRig struct {
	B     RaceBackend
	Jail  string              // the jail every case bans in
	Jails []firewall.JailSpec // given to Setup; they include Jail
	// Delete removes addr from Jail's set behind the backend's back, with
	// the firewall's own tool.
	Delete func(t *testing.T, addr string)
	// ReadDone makes f run each time a heal has read the sets without the
	// batch lock; nil clears it.
	ReadDone func(f func())
	// Drained, if set, reports whether the backend's change log is empty;
	// it is checked after the heals.
	Drained func() bool
}

// Bans returns host bans in the rig's jail for addrs.
func (r *RaceRig) Bans(addrs ...string) []firewall.Ban {
	var out []firewall.Ban
	for _, a := range addrs {
		out = append(out, firewall.Ban{Jail: r.Jail, Prefix: netip.MustParsePrefix(a + "/32")})
	}
	return out
}

// Ban bans addrs in the rig's jail, failing t on error.
func (r *RaceRig) Ban(t *testing.T, addrs ...string) {
	t.Helper()
	must(t, r.B.Ban(context.Background(), r.Bans(addrs...)))
}

// Unban unbans addrs in the rig's jail, failing t on error.
func (r *RaceRig) Unban(t *testing.T, addrs ...string) {
	t.Helper()
	must(t, r.B.Unban(context.Background(), r.Bans(addrs...)))
}

// Setup sets up the rig's jails, failing t on error.
func (r *RaceRig) Setup(t *testing.T) {
	t.Helper()
	must(t, r.B.Setup(context.Background(), r.Jails))
}

// Addrs lists the addresses banned in the rig's jail, sorted.
func (r *RaceRig) Addrs(t *testing.T) []string {
	t.Helper()
	all, err := r.B.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ban := range all {
		if ban.Jail == r.Jail {
			out = append(out, ban.Prefix.Addr().String())
		}
	}
	slices.Sort(out)
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// HealRace is one interleaving: our own change (or someone else's) made
// while a heal reads the sets without the batch lock.
type HealRace struct {
	Name   string
	Before []string // banned before the heal
	Damage []string // then deleted behind our back before the heal
	Want   []string // the heal's wanted bans
	During func(t *testing.T, r *RaceRig)
	Repair int      // bans the heal mends
	After  []string // in the set after the heal
	Next   int      // bans a second heal mends, wanting Want again if Next > 0
}

// Race case names, for a backend that runs only some of HealRaceCases.
const (
	RaceNothing      = "nothing during the read"
	RaceBan          = "ban committed during the read"
	RaceUnban        = "unban committed during the read"
	RaceUnbanLost    = "unban of an element already lost"
	RaceUnbanBan     = "unban then ban again during the read"
	RaceMendAndBan   = "lost element mended while another is banned"
	RaceSetup        = "setup during the read"
	RaceDeletedOther = "deleted behind our back during the read"
)

// HealRaceCases is the interleaving table the kernel backends share, in
// the order it runs.
func HealRaceCases() []HealRace {
	return []HealRace{
		{
			Name:   RaceNothing,
			Before: []string{"192.0.2.1", "192.0.2.2"},
			Want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			Repair: 1,
			After:  []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		},
		{
			Name:   RaceBan,
			Before: []string{"192.0.2.1", "192.0.2.2"},
			Want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			During: func(t *testing.T, r *RaceRig) { r.Ban(t, "192.0.2.3") },
			After:  []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		},
		{
			Name:   RaceUnban,
			Before: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			Want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			During: func(t *testing.T, r *RaceRig) { r.Unban(t, "192.0.2.2") },
			After:  []string{"192.0.2.1", "192.0.2.3"},
		},
		{
			Name:   RaceUnbanLost,
			Before: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			Damage: []string{"192.0.2.3"},
			Want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			During: func(t *testing.T, r *RaceRig) { r.Unban(t, "192.0.2.3") },
			After:  []string{"192.0.2.1", "192.0.2.2"},
		},
		{
			Name:   RaceUnbanBan,
			Before: []string{"192.0.2.1", "192.0.2.2"},
			Want:   []string{"192.0.2.1", "192.0.2.2"},
			During: func(t *testing.T, r *RaceRig) {
				r.Unban(t, "192.0.2.2")
				r.Ban(t, "192.0.2.2")
			},
			After: []string{"192.0.2.1", "192.0.2.2"},
		},
		{
			Name:   RaceMendAndBan,
			Before: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			Damage: []string{"192.0.2.1"},
			Want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"},
			During: func(t *testing.T, r *RaceRig) { r.Ban(t, "192.0.2.4") },
			Repair: 1,
			After:  []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"},
		},
		{
			Name:   RaceSetup,
			Before: []string{"192.0.2.1", "192.0.2.2"},
			Want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			During: func(t *testing.T, r *RaceRig) { r.Setup(t) },
			Repair: 1,
			After:  []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		},
		{
			// Someone else's delete after the read is not seen by this
			// round (as if it came just after the heal); the next round,
			// wanting the same again, mends it.
			Name:   RaceDeletedOther,
			Before: []string{"192.0.2.1", "192.0.2.2"},
			Want:   []string{"192.0.2.1", "192.0.2.2"},
			During: func(t *testing.T, r *RaceRig) { r.Delete(t, "192.0.2.1") },
			After:  []string{"192.0.2.2"},
			Next:   1,
		},
	}
}

// Only returns the cases of cs named in names, in cs's order.
func Only(cs []HealRace, names ...string) []HealRace {
	var out []HealRace
	for _, c := range cs {
		if slices.Contains(names, c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// HealRaces runs each case as a subtest of t on a rig from open (given the
// case's index): Setup, ban Before, delete Damage, then heal Want with
// During run after the heal's read. The heal must mend Repair bans and
// leave After in the set; a second heal (of After, or of Want when Next >
// 0) mends Next, and the change log, if the rig reports it, is empty.
func HealRaces(t *testing.T, cases []HealRace, open func(t *testing.T, i int) *RaceRig) {
	t.Helper()
	for i, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			r := open(t, i)
			ctx := context.Background()
			r.Setup(t)
			r.Ban(t, tc.Before...)
			for _, a := range tc.Damage {
				r.Delete(t, a)
			}
			if tc.During != nil {
				r.ReadDone(func() { tc.During(t, r) })
			}
			got, err := r.B.Heal(ctx, r.Bans(tc.Want...))
			if err != nil || got != (firewall.Repair{Bans: tc.Repair}) {
				t.Errorf("Heal = %+v, %v; want %d bans", got, err, tc.Repair)
			}
			r.ReadDone(nil)
			if have := r.Addrs(t); !slices.Equal(have, tc.After) {
				t.Errorf("after the heal the set holds %v, want %v", have, tc.After)
			}
			again := tc.After
			if tc.Next > 0 {
				again = tc.Want
			}
			// The next round, with want as it now is, mends only what a
			// change behind our back took.
			got, err = r.B.Heal(ctx, r.Bans(again...))
			if err != nil || got != (firewall.Repair{Bans: tc.Next}) {
				t.Errorf("second Heal = %+v, %v; want %d bans", got, err, tc.Next)
			}
			if r.Drained != nil && !r.Drained() {
				t.Error("change log not empty after the heals")
			}
		})
	}
}
