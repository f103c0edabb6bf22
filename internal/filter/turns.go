package filter

import (
	"context"
	"iter"
	"sync"
)

// ProcessSeqTurns is ProcessSeq with its ordered stage (stage 3: the
// deferred hits merged in order, and emit) done by the workers as well,
// in turn: the worker that finishes the chunk next in order emits it,
// and the chunks after it that are done, while the other workers go on
// reading and searching. The calling goroutine only waits.
//
// So emit, and Options.Resolve, are called in order and one call at a
// time, each call finished before the next one starts, but on the
// workers' goroutines, not on the caller's. The results are those of
// Process, as with ProcessSeq, but a result's Failures may be storage
// that is used again for a later line once emit returns: emit must copy
// what it keeps of them.
//
// Why: with ProcessSeq the caller's goroutine is a third busy one beside
// two workers on two cores, and it reads every line's record (written
// on another core) to merge and emit it. Here a chunk is mostly read,
// dated, searched and emitted on one core, and two workers on two cores
// are two busy goroutines (bench/README, regex round 15).
func (f *Filter) ProcessSeqTurns(ctx context.Context, lines iter.Seq[string], workers int, emit func(line string, res Result)) error {
	return f.processSeq(ctx, lines, workers, true, emit)
}

// inOrder is stage 3 of ProcessSeqTurns: finished chunks, emitted in the
// order they were read by one worker at a time.
type inOrder struct {
	f    *Filter
	emit func(string, Result)
	free *chunkStack
	max  uint64 // chunks read but not yet emitted, at most

	mu       sync.Mutex
	more     sync.Cond     // signalled when next moves on
	next     uint64        // seq of the chunk to emit next
	emitting bool          // a worker is emitting: it emits what is ready
	ready    []*aheadChunk // finished chunks by seq % len(ready)
}

func newInOrder(f *Filter, emit func(string, Result), free *chunkStack, max int) *inOrder {
	o := &inOrder{f: f, emit: emit, free: free, max: uint64(max), ready: make([]*aheadChunk, max)}
	o.more.L = &o.mu
	return o
}

// room waits, for the holder of the reading turn about to read chunk
// seq, until fewer than max chunks are read and not emitted. (The chunks
// in between are searched by the other workers, or done and waiting for
// the worker emitting, so next moves on.)
func (o *inOrder) room(seq uint64) {
	o.mu.Lock()
	for seq-o.next >= o.max {
		o.more.Wait()
	}
	o.mu.Unlock()
}

// finished takes a chunk whose lines are worked. If no worker is
// emitting, this one emits every chunk that is ready from next on; else
// the one emitting will find the chunk when it gets to it.
func (o *inOrder) finished(c *aheadChunk) {
	o.mu.Lock()
	o.ready[c.seq%o.max] = c
	if o.emitting {
		o.mu.Unlock()
		return
	}
	o.emitting = true
	for {
		i := o.next % o.max
		c := o.ready[i]
		if c == nil || c.seq != o.next {
			break
		}
		o.ready[i] = nil
		o.mu.Unlock()
		o.f.emitChunk(c, o.emit, o.free)
		o.mu.Lock()
		o.next++
		o.more.Broadcast()
	}
	o.emitting = false
	o.mu.Unlock()
}
