package server

import (
	"time"

	"warden/internal/source"
)

// feedLinger is how long a flood's batch waits for its source when the
// channel runs dry, and feedSpan how long into a batch it still does. A
// batch that ends drains the filter's pipeline (its workers idle while the
// last lines are finished, then refill), which costs more than this wait
// when the source is only a read or a scheduling slice behind (on a loaded
// two-core machine a 100,000-address flood ended 180-200 batches with a
// 2 ms linger and 25 ms span, 80-125 with these, and took 0.2 CPU-s
// less); a trickle of lines after a backlog waits at most feedSpan in a
// batch.
const (
	feedLinger = 5 * time.Millisecond
	feedSpan   = 100 * time.Millisecond
)

// feed hands a large batch the lines its source queues while the batch is
// handled, so that a flood streams through one filter pipeline (one
// filter.ProcessSeq) for up to maxBatch lines instead of filling and
// draining it every few hundred lines. It is used by the jail's goroutine
// only: next is called from ProcessSeq's reader while the jail waits in
// ProcessSeq, never at the same time as start or poll.
type feed struct {
	lines <-chan source.Line
	// linger and span are feedLinger and feedSpan (tests change them)
	linger, span time.Duration
	timer        *time.Timer // the linger; running only inside next
	began        time.Time   // start of the batch
	left         int         // lines the batch may still take
	// extra counts the lines taken by start, poll and next in this batch;
	// closed is set when the channel was found closed.
	extra  int
	closed bool
}

func newFeed(lines <-chan source.Line) *feed {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &feed{lines: lines, linger: feedLinger, span: feedSpan, timer: t}
}

// start begins a batch that may take up to left more lines.
func (f *feed) start(left int) {
	f.began, f.left, f.extra = time.Now(), left, 0
}

// poll takes a queued line without waiting.
func (f *feed) poll() (source.Line, bool) {
	if f.closed || f.left <= 0 {
		return source.Line{}, false
	}
	select {
	case l, ok := <-f.lines:
		return f.took(l, ok)
	default:
		return source.Line{}, false
	}
}

// next takes the next line: a queued one, or, while the batch is young, one
// that arrives within the linger.
func (f *feed) next() (source.Line, bool) {
	if l, ok := f.poll(); ok || f.closed || f.left <= 0 {
		return l, ok
	}
	if time.Since(f.began) >= f.span {
		return source.Line{}, false
	}
	f.timer.Reset(f.linger)
	defer f.timer.Stop()
	select {
	case l, ok := <-f.lines:
		return f.took(l, ok)
	case <-f.timer.C:
		return source.Line{}, false
	}
}

func (f *feed) took(l source.Line, ok bool) (source.Line, bool) {
	if !ok {
		f.closed = true
		return source.Line{}, false
	}
	f.left--
	f.extra++
	return l, true
}
