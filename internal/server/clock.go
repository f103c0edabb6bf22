package server

import (
	"sync/atomic"
	"time"
)

// batchClock is the clock a jail's filter and tracker read. Through a
// large batch of lines (a backlog or a flood; see handleBatch) it gives
// the reading the batch's reader took when it last passed clockEvery
// lines, and otherwise the server's clock itself. A flood line asks for
// the time three times (the date detector, the multi-line id cache, the
// tracker), and on this machine's kvm-clock a reading costs about 55 ns,
// some 8% of the line on the jail's goroutine, the flood's longest stage.
// A reading clockEvery lines old (well under a millisecond at a flood's
// pace; longer while a streamed batch waits for its next lines) is as
// good as a fresh one for year-less stamps, findtime windows and cache
// ages. The tracker's clamp of stamps in the future may take a line
// stamped after the reading as one, and move its failure's time back by
// at most the reading's age (counted in its Stats.Clamped).
type batchClock struct {
	now func() time.Time
	cur atomic.Pointer[time.Time] // nil outside a batch
}

// clockEvery is how many lines of a batch share one reading.
const clockEvery = 512

func newBatchClock(now func() time.Time) *batchClock {
	if now == nil {
		now = time.Now
	}
	return &batchClock{now: now}
}

// Now returns the batch's reading inside a batch, else the clock's own.
// Safe for concurrent use.
func (c *batchClock) Now() time.Time {
	if t := c.cur.Load(); t != nil {
		return *t
	}
	return c.now()
}

// tick takes a new reading for the batch.
func (c *batchClock) tick() {
	t := c.now()
	c.cur.Store(&t)
}

// done ends the batch: readings are fresh again.
func (c *batchClock) done() { c.cur.Store(nil) }
