package firewalld

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"warden/internal/firewall"
	"warden/internal/firewall/firewalld/fwdtest"
)

// TestHealRaces commits our own changes (and others') while a heal reads
// the kernel sets without the batch lock: the heal must neither put back
// what was just unbanned nor count what was just banned, yet mend what was
// lost.
func TestHealRaces(t *testing.T) {
	ssh := func(addrs ...string) []firewall.Ban {
		var out []firewall.Ban
		for _, a := range addrs {
			out = append(out, firewall.Ban{Jail: "ssh", Prefix: netip.MustParsePrefix(a + "/32")})
		}
		return out
	}
	jails := []firewall.JailSpec{{Name: "ssh", Ports: []firewall.PortRange{pr(22, 22)}}}
	for i, tc := range []struct {
		name   string
		before []string // banned before the heal
		damage []string // then deleted by ipset before the heal
		want   []string // the heal's wanted bans
		during func(t *testing.T, b *Backend, in *fwdtest.Instance, set string)
		repair int      // bans the heal mends
		after  []string // in the set after the heal
		next   int      // bans a second heal, wanting want again, mends
	}{
		{
			name:   "ban committed during the read",
			before: []string{"192.0.2.1"},
			want:   []string{"192.0.2.1", "192.0.2.2"},
			during: func(t *testing.T, b *Backend, _ *fwdtest.Instance, _ string) {
				mustDo(t, b.Ban(t.Context(), ssh("192.0.2.2")))
			},
			after: []string{"192.0.2.1", "192.0.2.2"},
		},
		{
			name:   "unban of an element already lost",
			before: []string{"192.0.2.1", "192.0.2.2"},
			damage: []string{"192.0.2.2"},
			want:   []string{"192.0.2.1", "192.0.2.2"},
			during: func(t *testing.T, b *Backend, _ *fwdtest.Instance, _ string) {
				mustDo(t, b.Unban(t.Context(), ssh("192.0.2.2")))
			},
			after: []string{"192.0.2.1"},
		},
		{
			name:   "lost element mended while another is banned",
			before: []string{"192.0.2.1", "192.0.2.2"},
			damage: []string{"192.0.2.1"},
			want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			during: func(t *testing.T, b *Backend, _ *fwdtest.Instance, _ string) {
				mustDo(t, b.Ban(t.Context(), ssh("192.0.2.3")))
			},
			repair: 1,
			after:  []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		},
		{
			name:   "setup during the read",
			before: []string{"192.0.2.1"},
			want:   []string{"192.0.2.1", "192.0.2.2"},
			during: func(t *testing.T, b *Backend, _ *fwdtest.Instance, _ string) {
				mustDo(t, b.Setup(t.Context(), jails))
			},
			repair: 1,
			after:  []string{"192.0.2.1", "192.0.2.2"},
		},
		{
			name:   "deleted by ipset during the read",
			before: []string{"192.0.2.1", "192.0.2.2"},
			want:   []string{"192.0.2.1", "192.0.2.2"},
			during: func(t *testing.T, _ *Backend, in *fwdtest.Instance, set string) {
				in.Run(t, "ipset", "del", set, "192.0.2.1")
			},
			after: []string{"192.0.2.2"},
			next:  1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := fmt.Sprintf("hr%d", i)
			b, in := newBackend(t, prefix)
			ctx := t.Context()
			set := setName(prefix, "ssh", false)
			mustDo(t, b.Setup(ctx, jails))
			mustDo(t, b.Ban(ctx, ssh(tc.before...)))
			for _, a := range tc.damage {
				in.Run(t, "ipset", "del", set, a)
			}
			if tc.during != nil {
				b.hooks.readDone = func() { tc.during(t, b, in, set) }
			}
			got, err := b.Heal(ctx, ssh(tc.want...))
			if err != nil || got != (firewall.Repair{Bans: tc.repair}) {
				t.Errorf("Heal = %+v, %v; want %d bans", got, err, tc.repair)
			}
			b.hooks = healHooks{}
			if have := sshAddrs(t, b); !slices.Equal(have, tc.after) {
				t.Errorf("after the heal the set holds %v, want %v", have, tc.after)
			}
			again := tc.after
			if tc.next > 0 {
				again = tc.want
			}
			got, err = b.Heal(ctx, ssh(again...))
			if err != nil || got != (firewall.Repair{Bans: tc.next}) {
				t.Errorf("second Heal = %+v, %v; want %d bans", got, err, tc.next)
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

// sshAddrs lists the addresses in the ssh jail, sorted.
func sshAddrs(t *testing.T, b *Backend) []string {
	t.Helper()
	all, err := b.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ban := range all {
		if ban.Jail == "ssh" {
			out = append(out, ban.Prefix.Addr().String())
		}
	}
	slices.Sort(out)
	return out
}
