package store

import (
	"context"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time so far. The benchmarks
// report it besides wall time because the test machine is shared, and wall
// time then measures the neighbours too.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// manyBans returns n distinct bans spread over four jails, a third of them
// already over at t0, each with two matched lines.
func manyBans(n int) []Ban {
	jails := []string{"sshd", "nginx-http-auth", "postfix", "dovecot"}
	out := make([]Ban, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		bt := time.Hour
		if i%3 == 0 {
			bt = time.Minute
		}
		out[i] = Ban{
			Jail: jails[i%len(jails)], Prefix: netip.PrefixFrom(a, 32),
			Time: t0.Add(-10 * time.Minute), BanTime: bt, Count: 1 + i%5, Failures: 5,
			Matches: []string{"Failed password for root from " + a.String(), "Connection closed by " + a.String()},
		}
	}
	return out
}

// BenchmarkAddBans100k measures one AddBans call of 100,000 bans into an
// empty database (a fresh file per iteration, created outside the timer).
func BenchmarkAddBans100k(b *testing.B) {
	bans := manyBans(100_000)
	ctx := context.Background()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		s := openTest(b, Options{})
		c := cpuTime(b)
		b.StartTimer()
		if err := s.AddBans(ctx, bans); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime(b) - c
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100_000, "ns/ban")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkActiveBans100k measures ActiveBans over 100,000 stored bans of
// which none have ended, so every call reads all of them.
func BenchmarkActiveBans100k(b *testing.B) {
	bans := manyBans(100_000)
	for i := range bans {
		bans[i].BanTime = -1
	}
	ctx := context.Background()
	s := openTest(b, Options{})
	if err := s.AddBans(ctx, bans); err != nil {
		b.Fatal(err)
	}
	c := cpuTime(b)
	for b.Loop() {
		got, err := s.ActiveBans(ctx, t0)
		if err != nil || len(got) != len(bans) {
			b.Fatalf("ActiveBans: %d bans, %v", len(got), err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-c).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// TestAddBans100k checks a full-size batch lands completely and that
// ActiveBans then deletes exactly the ended third. Timing is left to the
// benchmarks: the test machine is shared.
func TestAddBans100k(t *testing.T) {
	if testing.Short() {
		t.Skip("large batch")
	}
	ctx := context.Background()
	s := openTest(t, Options{})
	bans := manyBans(100_000)
	start := time.Now()
	if err := s.AddBans(ctx, bans); err != nil {
		t.Fatal(err)
	}
	t.Logf("AddBans(100000) took %v", time.Since(start))
	got, err := s.ActiveBans(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := 100_000 - (100_000+2)/3; len(got) != want {
		t.Fatalf("ActiveBans = %d, want %d", len(got), want)
	}
	var hist int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM history").Scan(&hist); err != nil || hist != 100_000 {
		t.Fatalf("history rows %d (%v), want 100000", hist, err)
	}
}

// floodBans returns n bans of one jail as a flood brings them: addresses
// in numeric order, no matched lines (no action needs them), one time.
func floodBans(n int) []Ban {
	out := make([]Ban, n)
	a := netip.MustParseAddr("100.64.0.1")
	for i := range out {
		out[i] = Ban{Jail: "sshd", Prefix: netip.PrefixFrom(a, 32), Time: t0, BanTime: 24 * time.Hour, Count: 1, Failures: 5}
		a = a.Next()
	}
	return out
}

// BenchmarkAddBansFlood measures what the ban manager's writer does during
// a flood of 100,000 addresses: AddBans calls of 500 bans each (the
// writer's transactions are 50 ms apart) into one fresh database per
// iteration.
func BenchmarkAddBansFlood(b *testing.B) {
	const per = 500
	bans := floodBans(100_000)
	ctx := context.Background()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		s := openTest(b, Options{})
		c := cpuTime(b)
		b.StartTimer()
		for i := 0; i < len(bans); i += per {
			if err := s.AddBans(ctx, bans[i:min(i+per, len(bans))]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		cpu += cpuTime(b) - c
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(bans)), "ns/ban")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
