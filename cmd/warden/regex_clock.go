package main

import (
	"context"
	"sync/atomic"
	"time"
)

// coarseClock is a wall clock read by a ticker rather than on every call:
// the date detector and the filter ask for "now" once per line (template
// ages, year-less stamps, multi-line ids), and on this machine's kvm-clock
// time.Now costs about 60 ns, 2-3% of a line. A batch run over a file
// needs now only to the second (stamps are whole seconds; templates age
// in minutes), so a reading at most tick old is as good as a fresh one.
type coarseClock struct {
	ns atomic.Int64 // Unix nanoseconds of the last reading
}

// newCoarseClock starts the clock; it ticks until ctx is done.
func newCoarseClock(ctx context.Context, tick time.Duration) *coarseClock {
	c := &coarseClock{}
	c.ns.Store(time.Now().UnixNano())
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				c.ns.Store(now.UnixNano())
			}
		}
	}()
	return c
}

// Now returns the last reading (in the local zone, as time.Now); safe for
// concurrent use.
func (c *coarseClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }
