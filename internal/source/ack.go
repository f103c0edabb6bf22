package source

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Acks ties a source's saved positions to its consumer's progress. With
// FileOptions.Acks or JournalOptions.Acks set, a source saves a position
// (or cursor) only once the consumer has acknowledged, with Done, every line
// the source handed on before it: a saved position then means "every line
// before it has been handled", not merely "handed on", and a restart after
// a crash reads no handled line again.
//
// The source records a position after every run of lines it hands on (and
// when a file is opened, rotated or truncated); the saves are made by
// whichever side finds them due, one at a time and in the order recorded,
// so the saves of one file or journal never go backwards. Between two
// acknowledgements only the latest position of each file is saved.
//
// One Acks serves one source and one consumer; it may be reused when the
// source's Run is called again on the same channel.
type Acks struct {
	mu      sync.Mutex
	sent    uint64        // lines handed on
	done    uint64        // lines acknowledged
	pending []pendingSave // in the order recorded
}

// pendingSave is a position waiting for the lines before it.
type pendingSave struct {
	seq  uint64 // lines handed on when it was recorded
	key  string // file path, or JournalPath
	save func(context.Context) error
}

// NewAcks returns an Acks with nothing handed on.
func NewAcks() *Acks { return &Acks{} }

// Done acknowledges the next n lines received from the source (lines are
// acknowledged in the order they were received) and makes the saves that
// were waiting for them. It returns the errors of those saves.
func (a *Acks) Done(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done += uint64(n)
	return a.flush(ctx)
}

// Pending returns how many lines were handed on but not acknowledged.
func (a *Acks) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int(a.sent - a.done)
}

// handedOn counts n lines the source has handed on.
func (a *Acks) handedOn(n int) {
	a.mu.Lock()
	a.sent += uint64(n)
	a.mu.Unlock()
}

// record queues save, to be made once every line handed on so far is
// acknowledged (at once when they are).
func (a *Acks) record(ctx context.Context, key string, save func(context.Context) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, pendingSave{seq: a.sent, key: key, save: save})
	return a.flush(ctx)
}

// flush makes the due saves, the last one of each key only; a.mu is held.
func (a *Acks) flush(ctx context.Context) error {
	n := 0
	for n < len(a.pending) && a.pending[n].seq <= a.done {
		n++
	}
	if n == 0 {
		return nil
	}
	// The latest of each key, found from the end; there are few keys.
	due := a.pending[:n]
	var keys []string
	var errs []error
	for i := len(due) - 1; i >= 0; i-- {
		p := due[i]
		if slices.Contains(keys, p.key) {
			continue
		}
		keys = append(keys, p.key)
		if err := p.save(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	rest := copy(a.pending, a.pending[n:])
	clear(a.pending[rest:])
	a.pending = a.pending[:rest]
	return errors.Join(errs...)
}
