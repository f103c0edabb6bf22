package nftables

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/firewalltest"
)

// BenchmarkHealRound100k measures one complete heal round over 100,000
// banned addresses that are all present: CPU time of the process (user and
// system, so the kernel's side of the dump counts too), bytes allocated,
// and the peak of live heap objects seen during the round.
//
//	go test ./internal/firewall/nftables -run '^$' -bench HealRound100k -benchtime 5x
func BenchmarkHealRound100k(b *testing.B) {
	ns := newNetns(b)
	be := ns.backend(b)
	ctx := context.Background()
	if err := be.Setup(ctx, testJails); err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	want := firewalltest.HostBans("sshd", n, time.Now().Add(time.Hour))
	if err := be.Ban(ctx, want); err != nil {
		b.Fatal(err)
	}
	// One round first, not measured: twice in about ten runs (at load
	// 3-6) the first round right after the 100,000 inserts put back
	// bans that were there (7,509 and 15,146), so the figure would not
	// be the round it means to measure. Why is not known: a kernel-side
	// resize of the set's hash table was suspected, but dumps in a loop
	// right after the insert always read all 100,000, settled.
	if _, err := be.Heal(ctx, want); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				metrics.Read(s)
				peak = max(peak, s[0].Value.Uint64())
			}
		}
	}()
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rep, err := be.Heal(ctx, want)
		if err != nil || rep != (firewall.Repair{}) {
			b.Fatalf("Heal = %+v, %v; want nothing mended", rep, err)
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	close(stop)
	wg.Wait()
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MB")
}
