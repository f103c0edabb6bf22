package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"warden/internal/source"
)

func TestBatchClock(t *testing.T) {
	var calls atomic.Int64
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := newBatchClock(func() time.Time { return base.Add(time.Duration(calls.Add(1)) * time.Second) })
	if a, b := c.Now(), c.Now(); !b.After(a) || calls.Load() != 2 {
		t.Fatalf("outside a batch: %v then %v after %d readings; want a fresh reading each time", a, b, calls.Load())
	}
	c.tick()
	first := c.Now()
	for range 5 {
		if got := c.Now(); !got.Equal(first) {
			t.Fatalf("inside a batch Now = %v, want the batch's reading %v", got, first)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("%d readings, want 3 (two outside, one tick)", calls.Load())
	}
	c.tick()
	if got := c.Now(); !got.After(first) {
		t.Fatalf("after a second tick Now = %v, want later than %v", got, first)
	}
	c.done()
	before := calls.Load()
	c.Now()
	if calls.Load() != before+1 {
		t.Fatal("after done Now did not read the clock")
	}
}

// TestBatchClockInBatch: a large batch reads the server's clock once per
// clockEvery lines, not for every line (three readings a failure line
// before), and leaves the clock fresh for the lines after it.
func TestBatchClockInBatch(t *testing.T) {
	s, j, mgr := pipelineFixture(t)
	var calls atomic.Int64
	j.clock.now = func() time.Time { calls.Add(1); return time.Now() }
	stamp := time.Now().Format(time.Stamp)
	const n = 3 * clockEvery
	var lines []source.Line
	for i := range n {
		lines = append(lines, source.Line{Text: fmt.Sprintf("%s host sshd[%d]: Failed password for root from 192.0.2.%d port %d ssh2", stamp, 1000+i, 1+i%200, 40000+i)})
	}
	s.handleBatch(j, mgr, lines, nil, context.Background())
	if got := calls.Load(); got < n/clockEvery || got > n/clockEvery+3 {
		t.Errorf("%d failure lines read the clock %d times, want about %d", n, got, n/clockEvery)
	}
	if j.tracker.Stats().Failures != n {
		t.Errorf("tracker counted %d failures, want %d", j.tracker.Stats().Failures, n)
	}
	if j.clock.cur.Load() != nil {
		t.Error("the batch's reading outlived the batch")
	}
}

// TestBuildJailKeepsClock: a runtime `set` rebuilds the jail around its
// old tracker, which reads the old jail's clock; the rebuilt jail keeps
// that clock, so its batches tick the one the tracker reads.
func TestBuildJailKeepsClock(t *testing.T) {
	s, j, _ := pipelineFixture(t)
	kept, err := buildJail(j.cfg, &s.opts, buildEnv{svc: s.servicesLoader(), auto: &s.auto, clock: j.clock})
	if err != nil {
		t.Fatal(err)
	}
	if kept.clock != j.clock {
		t.Error("buildJail with a clock to keep made a new one")
	}
	fresh, err := buildJail(j.cfg, &s.opts, buildEnv{svc: s.servicesLoader(), auto: &s.auto})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.clock == nil || fresh.clock == j.clock {
		t.Error("buildJail without a clock to keep did not make its own")
	}
}
