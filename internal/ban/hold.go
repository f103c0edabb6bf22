package ban

import (
	"context"
	"sync/atomic"
	"time"
)

// While the request loop is in a flood, the writer holds its rows back
// until the flood has been quiet for writerQuiet, at most writerHold after
// its last transaction began, and while fewer than holdRows rows wait.
// Writing a ban costs about as much CPU as deciding it and putting it in
// the kernel (two SQLite rows); on a small machine that CPU is taken from the bans still
// on their way to the firewall, and once the flood pauses nothing competes
// for it. The rows wait packed (row: 48 bytes, no pointers): 32,768 of
// them are 1.6 MB. The bound is the memory target's: holding a whole
// flood of 100,000 rows (4.8 MB live, and the collector's room for as
// much again) raised bench/flood's peak RSS from 58-60 to 63-66 MB, over
// 64; at 32,768 a flood of 100,000 writes three times in the flood, each
// a few sorted transactions of 8,192 rows, and peaks at 61-62 MB.
//
// Nothing that needs the rows waits for the hold: a waiter (wait: an
// operator's unban, Sync, a bantime.increment history lookup) ends it as
// it ends the spacing, and so does close. The checkpoints (log positions)
// queued behind the rows run after them as always, so a crash during the
// hold reads those lines again and makes the same bans: nothing is lost
// that a saved position claims.
const (
	writerQuiet = 200 * time.Millisecond
	writerHold  = 10 * time.Second
	holdRows    = 1 << 15
)

// floodMark records when the request loop last took a flood's batch, in
// real time (the writer's pauses are in real time, whatever Clock is).
type floodMark struct{ ns atomic.Int64 }

// flooding marks a flood's batch taken now.
func (f *floodMark) flooding() { f.ns.Store(time.Now().UnixNano()) }

// last returns when the last flood's batch was taken (zero time if never).
func (f *floodMark) last() time.Time {
	if ns := f.ns.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// hold waits before the next transaction of bans: writerSpacing after
// began, and then, while the loop is in a flood, until it has been quiet
// for writerQuiet, up to writerHold after began or until holdRows rows
// wait. A waiter, close or the end of ctx ends it.
func (w *writer) hold(ctx context.Context, began time.Time) {
	w.pause(ctx, began.Add(writerSpacing))
	for {
		until := w.flood.last().Add(writerQuiet)
		if limit := began.Add(writerHold); until.After(limit) {
			until = limit
		}
		if !time.Now().Before(until) || ctx.Err() != nil || w.hurried() {
			return
		}
		// Short steps: the row bound is checked between them.
		step := time.Now().Add(writerQuiet / 4)
		if until.Before(step) {
			step = until
		}
		w.pause(ctx, step)
	}
}

// hurried reports whether someone waits for the writer, it is closing, or
// the rows waiting reached holdRows.
func (w *writer) hurried() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.idle) > 0 || w.closed || w.rows >= w.holdRows
}
