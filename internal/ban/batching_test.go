package ban

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/jail"
)

func idleManager(t *testing.T, fw firewall.Backend) *Manager {
	t.Helper()
	m, err := New(Config{
		Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}}},
		Backends: []firewall.Backend{fw}, Store: openStore(t), Clock: newFakeClock(t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGatherFlood: a lone request (or a few) is handled at once; a batch
// that found a flood queued waits for more, until BatchMax. A SubmitAll
// request counts as its tickets, both for the flood and for BatchMax. The
// linger is lengthened to 10 s so that waiting and not waiting are told
// apart by results and by seconds, not by milliseconds a loaded machine
// may lose.
func TestGatherFlood(t *testing.T) {
	req := func(i, tickets int) *request {
		r := &request{kind: reqBan, jail: "sshd", ticket: ticket(addrN(i).String(), t0)}
		for k := range tickets {
			r.tickets = append(r.tickets, ticket(addrN(i+k).String(), t0))
		}
		return r
	}
	tests := []struct {
		name     string
		first    int  // tickets of the first request (0: a Submit's)
		queued   int  // requests queued besides the first
		late     bool // one more arrives once gather has taken the queue
		want     int  // requests
		wantBans int
	}{
		{"lone", 0, 0, false, 1, 1},
		{"few queued", 0, floodBatch - 2, false, floodBatch - 1, floodBatch - 1},
		{"flood", 0, floodBatch, true, floodBatch + 2, floodBatch + 2},
		{"few tickets in one request", floodBatch - 2, 0, false, 1, floodBatch - 2},
		{"a flood's tickets in one request", floodBatch + 1, 0, true, 2, floodBatch + 2},
		{"tickets fill the batch", floodBatch + 2, 3, false, 1, floodBatch + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := idleManager(t, newMem())
			m.floodLinger = 10 * time.Second
			m.cfg.BatchMax = floodBatch + 2 // a waiting flood batch ends when full
			for i := range tt.queued {
				m.reqs <- req(i+1, 0)
			}
			if tt.late {
				go func() {
					for len(m.reqs) > 0 {
						time.Sleep(time.Millisecond)
					}
					m.reqs <- req(1000, 0)
				}()
			}
			first := req(0, tt.first)
			start := time.Now()
			got, n := m.gather(t.Context(), []*request{first}, first.bans())
			took := time.Since(start)
			if len(got) != tt.want || n != tt.wantBans {
				t.Errorf("batch of %d requests, %d bans; want %d, %d", len(got), n, tt.want, tt.wantBans)
			}
			// Without a wait, or with one ended by a full batch, gather
			// returns in far less than the 10 s linger.
			if took >= 5*time.Second {
				t.Errorf("gather took %v", took)
			}
		})
	}
}

// TestMarksKeepBansTogether: checkpoints between bans of one batch do not
// split them into several firewall calls, and reach the writer after
// every ban of the batch.
func TestMarksKeepBansTogether(t *testing.T) {
	fw := newMem()
	m := idleManager(t, fw)
	mk := func(key string) *request {
		return &request{kind: reqMark, mark: &mark{key: key, fn: func(context.Context) error { return nil }}}
	}
	var batch []*request
	for i := range 6 {
		batch = append(batch, &request{kind: reqBan, jail: "sshd", ticket: ticket(addrN(i).String(), t0)})
		if i%2 == 1 {
			batch = append(batch, mk("sshd"))
		}
	}
	m.handle(t.Context(), batch)
	if calls, _ := fw.calls(); !slices.Equal(calls, []int{6}) {
		t.Errorf("firewall calls %v, want one of 6", calls)
	}
	m.w.mu.Lock()
	defer m.w.mu.Unlock()
	var kinds []string
	for _, op := range m.w.queue {
		switch {
		case op.add != nil:
			kinds = append(kinds, "add")
		case op.mark != nil:
			kinds = append(kinds, "mark")
		}
	}
	if want := []string{"add", "mark", "mark", "mark"}; !slices.Equal(kinds, want) {
		t.Errorf("writer queue %v, want %v", kinds, want)
	}
}

// TestSettled: Settled is called once a burst of SettleBans bans is over
// (a second without a ban, by the manager's clock), not before, not for a
// smaller burst; and after a restore of as many.
func TestSettled(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t, func(c *Config) {
		c.Jails[0].Actions = nil
		c.Settled = func() { calls.Add(1) }
	})
	ctx := t.Context()
	submit := func(from, n int) {
		for i := from; i < from+n; i++ {
			if err := e.m.Submit(ctx, "sshd", ticket(addrN(i).String(), e.clk.Now())); err != nil {
				t.Fatal(err)
			}
		}
		e.sync(t)
	}
	submit(0, SettleBans-1)
	e.clk.Advance(2 * time.Second)
	e.sync(t)
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d calls after a burst of %d, want 0", n, SettleBans-1)
	}
	submit(SettleBans, SettleBans)
	e.clk.Advance(500 * time.Millisecond)
	e.sync(t)
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d calls half a second after the burst, want 0", n)
	}
	e.clk.Advance(500 * time.Millisecond)
	e.sync(t)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls a second after the burst, want 1", n)
	}

	// A second manager on the same store restores them all.
	cfg := e.m.cfg
	cfg.Backends = []firewall.Backend{newMem()}
	m2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	running(t, m2)
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls after a restore of %d, want 2", n, 2*SettleBans-1)
	}
}

// ctxBackend fails a Ban whose context has ended, as the nftables backend
// does.
type ctxBackend struct{ *memBackend }

func (b ctxBackend) Ban(ctx context.Context, bans []firewall.Ban) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.memBackend.Ban(ctx, bans)
}

// TestShutdownDuringLinger: when Run's context ends while a flood's batch
// waits for more, the wait ends at once and the batch reaches the firewall
// and the store with the drain's context, like the rest of the queue.
func TestShutdownDuringLinger(t *testing.T) {
	fw := newMem()
	fw.block, fw.entered = make(chan struct{}), make(chan struct{}, 1)
	st := openStore(t)
	m, err := New(Config{
		Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}}},
		Backends: []firewall.Backend{ctxBackend{fw}}, Store: st, Clock: newFakeClock(t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	m.floodLinger = 10 * time.Second
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-m.Ready()
	// The loop is held in its first firewall call while a flood queues.
	n := floodBatch + 1
	for i := range n {
		if err := m.Submit(ctx, "sshd", ticket(addrN(i).String(), t0)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-fw.entered
		}
	}
	close(fw.block)
	for len(m.reqs) > 0 { // taken by gather, which now waits for more
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	if took := time.Since(start); took >= 5*time.Second {
		t.Errorf("Run returned %v after its context ended: the batch waited on", took)
	}
	if got := fw.size(); got != n {
		t.Errorf("firewall holds %d bans, want %d", got, n)
	}
	if got := len(storedBans(t, st, t0)); got != n {
		t.Errorf("store holds %d bans, want %d", got, n)
	}
}
