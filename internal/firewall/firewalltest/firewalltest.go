// Package firewalltest holds the checks every firewall backend's kernel
// tests share: a test logger, golden files, ban lists compared with the
// kernel's clock drift allowed, concurrent use and the batch-ban benchmark.
// Each backend's tests bring their own namespace and Backend.
package firewalltest

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
)

// Logger returns a debug-level logger writing to tb's log (shown with -v
// or when the test fails).
func Logger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Golden compares got with the file at path, first rewriting the file with
// got when update is set (a test's -update flag).
func Golden(t *testing.T, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// Slack is how far a listed expiry may be from the one banned: kernels
// count timeouts down from the Ban call in jiffies or whole seconds.
const Slack = 3 * time.Second

// CheckList compares b.List with want, in order; expiries may differ by
// Slack, and a ban without expiry must be listed without one.
func CheckList(t *testing.T, b firewall.Backend, want []firewall.Ban) {
	t.Helper()
	got, err := b.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		near := g.Expires.IsZero() == w.Expires.IsZero() && g.Expires.Sub(w.Expires).Abs() <= Slack
		ok = g.Jail == w.Jail && g.Prefix == w.Prefix && near
	}
	if !ok {
		t.Errorf("List:\n%v\nwant:\n%v", got, want)
	}
}

// HostBans returns n distinct IPv4 host bans in 10.0.0.0/8 for jail.
func HostBans(jail string, n int, expires time.Time) []firewall.Ban {
	out := make([]firewall.Ban, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		out[i] = firewall.Ban{Jail: jail, Prefix: netip.PrefixFrom(a, 32), Expires: expires}
	}
	return out
}

// ConcurrentUse runs Ban, Unban and List from workers goroutines, each
// banning each addresses in jail (set up by the caller) and unbanning every
// second one; the race detector and the final count check the backend's
// locking.
func ConcurrentUse(t *testing.T, b firewall.Backend, jail string, workers, each int) {
	t.Helper()
	ctx := context.Background()
	errc := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				ban := []firewall.Ban{{Jail: jail, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, byte(w), byte(i)}), 32)}}
				if err := b.Ban(ctx, ban); err != nil {
					errc <- err
					return
				}
				if i%2 == 1 {
					if err := b.Unban(ctx, ban); err != nil {
						errc <- err
						return
					}
				}
				if _, err := b.List(ctx); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range workers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := workers * ((each + 1) / 2); len(got) != want {
		t.Errorf("List has %d bans, want %d", len(got), want)
	}
}

// BenchmarkBan measures one batch of 10,000 and of 100,000 host bans in
// jail "sshd" of jails, on a fresh Setup each round; open returns the
// backend under test in its own namespace. It reports ns/ban.
func BenchmarkBan(b *testing.B, jails []firewall.JailSpec, open func(*testing.B) firewall.Backend) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			be := open(b)
			ctx := context.Background()
			bans := HostBans("sshd", n, time.Now().Add(time.Hour))
			for b.Loop() {
				b.StopTimer()
				if err := be.Teardown(ctx); err != nil {
					b.Fatal(err)
				}
				if err := be.Setup(ctx, jails); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := be.Ban(ctx, bans); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/ban")
		})
	}
}

// HealCase is one change made behind a backend's back and what its Check
// and Heal must then report missing.
type HealCase struct {
	Name   string
	Damage func(t *testing.T)
	Want   firewall.Repair
}

// HealCases runs each case as a subtest of t on h, which holds the bans
// want: after Damage, Check and Heal both report Want, and a second Check
// finds nothing missing; healed then compares the firewall with what it
// was before the damage, in the backend's own terms.
func HealCases(t *testing.T, h firewall.Healer, want []firewall.Ban, cases []HealCase, healed func(t *testing.T)) {
	t.Helper()
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			tc.Damage(t)
			rep, err := h.Check(ctx, want)
			if err != nil || rep != tc.Want {
				t.Fatalf("Check = %+v, %v; want %+v", rep, err, tc.Want)
			}
			rep, err = h.Heal(ctx, want)
			if err != nil || rep != tc.Want {
				t.Fatalf("Heal = %+v, %v; want %+v", rep, err, tc.Want)
			}
			if rep, err := h.Check(ctx, want); err != nil || rep != (firewall.Repair{}) {
				t.Errorf("Check after Heal = %+v, %v; want nothing missing", rep, err)
			}
			healed(t)
		})
	}
}
