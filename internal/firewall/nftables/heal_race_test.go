package nftables

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
)

// TestHealRaces commits our own changes (and others') while a heal reads
// the sets without the batch lock, and checks that the heal neither puts
// back what was just unbanned nor counts what was just banned, yet still
// mends what was really lost.
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
		damage []string // then deleted by nft before the heal
		want   []string // the heal's wanted bans
		during func(t *testing.T, b *Backend, ns netns)
		repair int      // bans the heal mends
		after  []string // in the set after the heal
		next   int      // bans a second heal mends
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
			name:   "unban committed during the read",
			before: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			want:   []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			during: func(t *testing.T, b *Backend, _ netns) { mustDo(t, b.Unban(ctx, sshd("192.0.2.2"))) },
			after:  []string{"192.0.2.1", "192.0.2.3"},
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
			name:   "unban then ban again during the read",
			before: []string{"192.0.2.1", "192.0.2.2"},
			want:   []string{"192.0.2.1", "192.0.2.2"},
			during: func(t *testing.T, b *Backend, _ netns) {
				mustDo(t, b.Unban(ctx, sshd("192.0.2.2")))
				mustDo(t, b.Ban(ctx, sshd("192.0.2.2")))
			},
			after: []string{"192.0.2.1", "192.0.2.2"},
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
			// Someone else's delete after the read is not seen by this
			// round (as if it came just after the heal); the generation
			// moved, so the next round runs and mends it.
			name:   "deleted by nft during the read",
			before: []string{"192.0.2.1", "192.0.2.2"},
			want:   []string{"192.0.2.1", "192.0.2.2"},
			during: func(t *testing.T, _ *Backend, ns netns) {
				ns.nft(t, "delete", "element", "inet", "warden", "addr4-sshd", "{ 192.0.2.1 }")
			},
			after: []string{"192.0.2.2"},
			next:  1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNetns(t)
			b := ns.backend(t)
			mustDo(t, b.Setup(ctx, testJails))
			mustDo(t, b.Ban(ctx, sshd(tc.before...)))
			for _, a := range tc.damage {
				ns.nft(t, "delete", "element", "inet", "warden", "addr4-sshd", "{ "+a+" }")
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
			after := tc.after
			if tc.next > 0 {
				after = tc.want
			}
			// The next round, with want as it now is, mends only what a
			// change behind our back took.
			got, err = b.Heal(ctx, sshd(after...))
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
	return out
}

// TestBanDuringHeal times single Bans while a heal reads 100,000 elements
// back: they must not wait for the read (with the read under the batch
// lock they waited about a second each).
func TestBanDuringHeal(t *testing.T) {
	if testing.Short() {
		t.Skip("bans 100,000 addresses")
	}
	ns := newNetns(t)
	b := ns.backend(t)
	ctx := context.Background()
	mustDo(t, b.Setup(ctx, testJails))
	const n = 100_000
	want := make([]firewall.Ban, n)
	for i := range want {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		want[i] = firewall.Ban{Jail: "sshd", Prefix: netip.PrefixFrom(a, 32)}
	}
	mustDo(t, b.Ban(ctx, want))

	reading := make(chan struct{})
	b.mu.Lock()
	b.hooks.readStart = func() { close(reading) }
	b.mu.Unlock()
	type result struct {
		rep firewall.Repair
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		rep, err := b.Heal(ctx, want)
		done <- result{rep, err}
	}()
	<-reading
	var waits []time.Duration
	var res *result
	for i := 0; res == nil && i < 200; i++ {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		t0 := time.Now()
		mustDo(t, b.Ban(ctx, []firewall.Ban{{Jail: "web", Prefix: netip.PrefixFrom(a, 32)}}))
		waits = append(waits, time.Since(t0))
		select {
		case r := <-done:
			res = &r
		case <-time.After(5 * time.Millisecond):
		}
	}
	if res == nil {
		r := <-done
		res = &r
	}
	healTook := time.Since(start)
	if res.err != nil || res.rep != (firewall.Repair{}) {
		t.Fatalf("Heal = %+v, %v; want nothing mended", res.rep, res.err)
	}
	if len(waits) < 2 {
		t.Fatalf("the heal (%v) ended before a second Ban (the first took %v): Ban waited for it", healTook, waits[0])
	}
	sorted := slices.Clone(waits)
	slices.Sort(sorted)
	median, worst := sorted[len(sorted)/2], sorted[len(sorted)-1]
	t.Logf("heal of %d elements took %v; %d single bans during it: median %v, p99 %v, max %v",
		n, healTook, len(waits), median, sorted[len(sorted)*99/100], worst)
	if median >= 50*time.Millisecond {
		t.Errorf("median Ban during the heal took %v, want < 50ms (all: %s)", median, fmtDurations(waits))
	}
}

func fmtDurations(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprint(d.Round(time.Microsecond)))
	}
	return strings.Join(s, " ")
}
