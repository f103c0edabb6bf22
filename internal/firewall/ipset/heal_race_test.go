package ipset

import (
	"context"
	"slices"
	"testing"

	"warden/internal/firewall"
)

// TestHealRaces commits our own changes (and others') while a heal reads
// the sets without the batch lock: the heal must neither put back what was
// just unbanned nor count what was just banned, yet mend what was lost.
func TestHealRaces(t *testing.T) {
	sshd := func(addrs ...string) []firewall.Ban {
		var out []firewall.Ban
		for _, a := range addrs {
			out = append(out, firewall.Ban{Jail: "sshd", Prefix: mustPrefix(a + "/32")})
		}
		return out
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		before []string // banned before the heal
		damage []string // then deleted by ipset before the heal
		want   []string // the heal's wanted bans
		during func(t *testing.T, b *Backend, ns netns)
		repair int      // bans the heal mends
		after  []string // in the set after the heal
		next   int      // bans a second heal, wanting want again, mends
	}{
		{
			name:   "nothing during the read",
			before: []string{"192.0.2.1", "192.0.2.2"},
			want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			repair: 1,
			after:  []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		},
		{
			name:   "ban committed during the read",
			before: []string{"192.0.2.1", "192.0.2.2"},
			want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			during: func(t *testing.T, b *Backend, _ netns) { mustDo(t, b.Ban(ctx, sshd("192.0.2.3"))) },
			after:  []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		},
		{
			name:   "unban of an element already lost",
			before: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			damage: []string{"192.0.2.3"},
			want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			during: func(t *testing.T, b *Backend, _ netns) { mustDo(t, b.Unban(ctx, sshd("192.0.2.3"))) },
			after:  []string{"192.0.2.1", "192.0.2.2"},
		},
		{
			name:   "lost element mended while another is banned",
			before: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			damage: []string{"192.0.2.1"},
			want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"},
			during: func(t *testing.T, b *Backend, _ netns) { mustDo(t, b.Ban(ctx, sshd("192.0.2.4"))) },
			repair: 1,
			after:  []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"},
		},
		{
			name:   "setup during the read",
			before: []string{"192.0.2.1", "192.0.2.2"},
			want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			during: func(t *testing.T, b *Backend, _ netns) { mustDo(t, b.Setup(ctx, testJails)) },
			repair: 1,
			after:  []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		},
		{
			// Someone else's delete after the read is seen by the next
			// round, as if it came just after this one.
			name:   "deleted by ipset during the read",
			before: []string{"192.0.2.1", "192.0.2.2"},
			want:   []string{"192.0.2.1", "192.0.2.2"},
			during: func(t *testing.T, _ *Backend, ns netns) { ns.run(t, "ipset", "del", "f2b-sshd", "192.0.2.1") },
			after:  []string{"192.0.2.2"},
			next:   1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNetns(t, "nft")
			b := ns.backend(t)
			mustDo(t, b.Setup(ctx, testJails))
			mustDo(t, b.Ban(ctx, sshd(tc.before...)))
			for _, a := range tc.damage {
				ns.run(t, "ipset", "del", "f2b-sshd", a)
			}
			if tc.during != nil {
				b.hooks.readDone = func() { tc.during(t, b, ns) }
			}
			got, err := b.Heal(ctx, sshd(tc.want...))
			if err != nil || got != (firewall.Repair{Bans: tc.repair}) {
				t.Errorf("Heal = %+v, %v; want %d bans", got, err, tc.repair)
			}
			b.hooks = healHooks{}
			if have := sshdAddrs(t, b); !slices.Equal(have, tc.after) {
				t.Errorf("after the heal the set holds %v, want %v", have, tc.after)
			}
			again := tc.after
			if tc.next > 0 {
				again = tc.want
			}
			got, err = b.Heal(ctx, sshd(again...))
			if err != nil || got != (firewall.Repair{Bans: tc.next}) {
				t.Errorf("second Heal = %+v, %v; want %d bans", got, err, tc.next)
			}
			if b.changes.End(b.changes.Begin()).Len() != 0 {
				t.Error("change log not empty after the heals")
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sshdAddrs lists the addresses in the sshd jail, sorted.
func sshdAddrs(t *testing.T, b *Backend) []string {
	t.Helper()
	all, err := b.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ban := range all {
		if ban.Jail == "sshd" {
			out = append(out, ban.Prefix.Addr().String())
		}
	}
	slices.Sort(out)
	return out
}
