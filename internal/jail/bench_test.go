package jail

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"warden/internal/logfmt"
)

func addrN(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// BenchmarkAddFailureNew adds a failure for a never seen address.
func BenchmarkAddFailureNew(b *testing.B) {
	clk := &fakeClock{now: base}
	j := New(Config{MaxRetry: 5, MaxEntries: 1 << 24, Clock: clk.Now})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		j.AddFailure(ctx, Failure{Addr: addrN(i), Time: base})
		i++
	}
}

// BenchmarkAddFailureExisting adds failures for one tracked address.
func BenchmarkAddFailureExisting(b *testing.B) {
	clk := &fakeClock{now: base}
	j := New(Config{MaxRetry: 1 << 30, MaxMatches: 5, Clock: clk.Now})
	ctx := context.Background()
	f := Failure{Addr: netip.MustParseAddr("192.0.2.1"), Time: base, Lines: []string{"line"}}
	b.ReportAllocs()
	for b.Loop() {
		j.AddFailure(ctx, f)
	}
}

// BenchmarkMemoryPerAddress reports the heap held per tracked address
// (no matches kept).
func BenchmarkMemoryPerAddress(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		clk := &fakeClock{now: base}
		j := New(Config{MaxRetry: 5, MaxEntries: 1 << 24, Clock: clk.Now})
		for i := range n {
			j.AddFailure(context.Background(), Failure{Addr: addrN(i), Time: base.Add(time.Duration(i))})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/addr")
		runtime.KeepAlive(j)
	}
}

// BenchmarkAddFailureFlood is a jail's share of bench/flood: addresses
// each failing six times in a row, as the filter hands them over (Host
// the address's text), maxretry 5. It reports the cost and allocations
// per failure, with no log and with the server's text log at INFO (a
// Found line a failure, to a discarding writer).
func BenchmarkAddFailureFlood(b *testing.B) {
	const addrs, fails = 100_000, 6
	hosts := make([]string, addrs)
	for i := range hosts {
		hosts[i] = addrN(i).String()
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		log  *slog.Logger
	}{
		{"quiet", nil},
		{"found", slog.New(logfmt.New(io.Discard, logfmt.Options{}))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n, bans := 0, 0
			for b.Loop() {
				clk := &fakeClock{now: base}
				j := New(Config{Name: "sshd", MaxRetry: 5, MaxEntries: 1 << 24, Clock: clk.Now, Logger: bc.log})
				for i, h := range hosts {
					for range fails {
						if _, ok := j.AddFailure(ctx, Failure{Host: h, Addr: addrN(i), Time: base}); ok {
							bans++
						}
						n++
					}
				}
			}
			if bans != b.N*addrs {
				b.Fatalf("%d bans, want %d", bans, b.N*addrs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/failure")
			b.ReportMetric(0, "ns/op")
		})
	}
}
