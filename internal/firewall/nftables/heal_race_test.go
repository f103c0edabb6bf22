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
	"warden/internal/firewall/firewalltest"
)

// TestHealRaces commits our own changes (and others') while a heal reads
// the sets without the batch lock, and checks that the heal neither puts
// back what was just unbanned nor counts what was just banned, yet still
// mends what was really lost. The table is firewalltest's; deleting behind
// our back is done with nft.
func TestHealRaces(t *testing.T) {
	firewalltest.HealRaces(t, firewalltest.HealRaceCases(), func(t *testing.T, _ int) *firewalltest.RaceRig {
		ns := newNetns(t)
		b := ns.backend(t)
		return &firewalltest.RaceRig{
			B:     b,
			Jail:  "sshd",
			Jails: testJails,
			Delete: func(t *testing.T, addr string) {
				ns.nft(t, "delete", "element", "inet", "warden", "addr4-sshd", "{ "+addr+" }")
			},
			ReadDone: func(f func()) { b.hooks.readDone = f },
			Drained:  func() bool { return b.changes.End(b.changes.Begin()).Len() == 0 },
		}
	})
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
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
