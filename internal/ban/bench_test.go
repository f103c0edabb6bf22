package ban

import (
	"context"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/jail"
	"warden/internal/store"
)

// benchFlood submits 100,000 tickets, 128 to a request, to a fresh manager (real store in a
// temporary directory) and waits until all are in the firewall and the
// store. newBackend is called once per iteration, outside the timer.
func benchFlood(b *testing.B, newBackend func(b *testing.B) firewall.Backend) {
	const n = 100_000
	ctx := context.Background()
	tickets := make([]jail.Ticket, n)
	now := time.Now()
	for i := range tickets {
		tickets[i] = ticket(addrN(i).String(), now)
	}
	for b.Loop() {
		b.StopTimer()
		st := openStoreAt(b, filepath.Join(b.TempDir(), "warden.db"))
		fw := &timedBackend{Backend: newBackend(b)}
		m, err := New(Config{
			Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}}},
			Backends: []firewall.Backend{fw}, Store: st,
		})
		if err != nil {
			b.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.Run(rctx) }()
		<-m.Ready()
		b.StartTimer()
		start := time.Now()
		for i := 0; i < n; i += 128 { // as the server's jails hand them on
			if err := m.SubmitAll(ctx, "sshd", slices.Clone(tickets[i:min(i+128, n)])); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if s, _ := m.Stats("sshd"); s.Banned != n {
			b.Fatalf("%d banned, want %d", s.Banned, n)
		}
		b.ReportMetric(float64(m.Counters().FirewallBans), "ban-calls")
		// Time until the last firewall batch was in place; the rest of
		// ns/op is the database catching up.
		b.ReportMetric(float64(time.Unix(0, fw.last.Load()).Sub(start).Milliseconds()), "firewall-ms")
		stop()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkFlood100kMem: 100,000 tickets with the in-memory backend.
func BenchmarkFlood100kMem(b *testing.B) {
	benchFlood(b, func(*testing.B) firewall.Backend { return newMem() })
}

// BenchmarkFlood100kNftables: 100,000 tickets with the real nftables
// backend in a fresh network namespace (skipped unless root).
func BenchmarkFlood100kNftables(b *testing.B) {
	_, fd := netnsFD(b)
	benchFlood(b, nftPerRun(fd))
}

// nftPerRun returns a backend factory for benchFlood and benchRestore: each
// run gets its own nftables backend in the namespace fd, torn down when the
// benchmark ends.
func nftPerRun(fd int) func(*testing.B) firewall.Backend {
	return func(b *testing.B) firewall.Backend {
		fw := nftBackend(b, fd)
		b.Cleanup(func() { fw.Teardown(context.Background()) })
		return fw
	}
}

// timedBackend notes when its last Ban call returned.
type timedBackend struct {
	firewall.Backend
	last atomic.Int64 // Unix nanoseconds
}

func (t *timedBackend) Ban(ctx context.Context, bans []firewall.Ban) error {
	err := t.Backend.Ban(ctx, bans)
	t.last.Store(time.Now().UnixNano())
	return err
}

// benchLatency measures single bans, one at a time: Ban returns once the
// firewall has the ban. It reports the median and p99.
func benchLatency(b *testing.B, fw firewall.Backend) {
	ctx := context.Background()
	st := openStoreAt(b, filepath.Join(b.TempDir(), "warden.db"))
	m, err := New(Config{
		Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}}},
		Backends: []firewall.Backend{fw}, Store: st,
	})
	if err != nil {
		b.Fatal(err)
	}
	running(b, m)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if res, err := m.Ban(ctx, "sshd", ticket(addrN(i).String(), t0)); err != nil || !res.Banned {
			b.Fatalf("%+v %v", res, err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkLatencyMem(b *testing.B) { benchLatency(b, newMem()) }

func BenchmarkLatencyNftables(b *testing.B) {
	_, fd := netnsFD(b)
	benchLatency(b, nftBackend(b, fd))
}

// benchRestore starts a manager on a database holding 100,000 active bans
// and measures until Run has put them all back in the firewall (Ready).
func benchRestore(b *testing.B, newBackend func(b *testing.B) firewall.Backend) {
	const n = 100_000
	ctx := context.Background()
	st := openStoreAt(b, filepath.Join(b.TempDir(), "warden.db"))
	now := time.Now()
	rows := make([]store.Ban, n)
	for i := range rows {
		rows[i] = store.Ban{Jail: "sshd", Prefix: pfx(addrN(i).String()), Time: now, BanTime: time.Hour, Count: 1}
	}
	if err := st.AddBans(ctx, rows); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		fw := newBackend(b)
		m, err := New(Config{
			Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}}},
			Backends: []firewall.Backend{fw}, Store: st,
		})
		if err != nil {
			b.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- m.Run(rctx) }()
		select {
		case <-m.Ready():
		case err := <-done:
			b.Fatal(err)
		}
		b.StopTimer()
		if s, _ := m.Stats("sshd"); s.Banned != n {
			b.Fatalf("%d restored, want %d", s.Banned, n)
		}
		stop()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if err := fw.Teardown(ctx); err != nil { // the next round starts empty
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRestore100kMem: restore of 100,000 bans, in-memory backend.
func BenchmarkRestore100kMem(b *testing.B) {
	benchRestore(b, func(*testing.B) firewall.Backend { return newMem() })
}

// BenchmarkRestore100kNftables: restore of 100,000 bans into a fresh
// nftables table in a network namespace (skipped unless root).
func BenchmarkRestore100kNftables(b *testing.B) {
	_, fd := netnsFD(b)
	benchRestore(b, nftPerRun(fd))
}
