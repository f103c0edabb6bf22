package ban

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"warden/internal/store"
)

// storeOp is one queued database change: bans to add, bans of one jail
// to remove (and, for an operator's unban, their history to forget), or a
// checkpoint to run once the changes before it are written.
type storeOp struct {
	add    *rowBatch
	jail   string
	remove []netip.Prefix
	forget bool
	mark   *mark
}

// mark is a checkpoint (see Manager.Checkpoint).
type mark struct {
	key string
	fn  func(context.Context) error
}

// writerSpacing is the least time between the starts of two transactions
// of bans while nobody waits for the writer: under a flood the request loop
// hands over a few dozen bans at a time (3,600 batches for 100,000
// addresses), and a transaction for each cost more than the rows. Nothing
// waits on it: bans are in the firewall before they are written, and log
// positions are saved after their bans in any case.
const writerSpacing = 50 * time.Millisecond

// writer applies database changes in the order they were queued, on a
// goroutine of its own, so the request loop never waits for SQLite before
// the next firewall batch. Consecutive additions are merged into one
// transaction, and transactions of bans are spaced by writerSpacing
// unless someone waits (wait, close).
type writer struct {
	st    Store
	jails []string // jail names by the index rows carry
	log   *slog.Logger
	// onErr counts a failed write.
	onErr func()

	mu     sync.Mutex
	queue  []storeOp
	busy   bool // the goroutine holds ops taken from queue
	wake   chan struct{}
	hurry  chan struct{} // ends a spacing pause: someone waits
	idle   []chan struct{}
	closed bool
}

func newWriter(st Store, jails []string, log *slog.Logger, onErr func()) *writer {
	return &writer{st: st, jails: jails, log: log, onErr: onErr, wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1)}
}

// push queues op; it never blocks.
func (w *writer) push(op storeOp) {
	w.mu.Lock()
	w.queue = append(w.queue, op)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run applies queued ops until close was called and the queue is empty.
// ctx bounds the database calls.
func (w *writer) run(ctx context.Context) {
	for {
		w.mu.Lock()
		ops := w.queue
		w.queue = nil
		w.busy = len(ops) > 0
		if len(ops) == 0 {
			for _, c := range w.idle {
				close(c)
			}
			w.idle = nil
			if w.closed {
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		if len(ops) == 0 {
			<-w.wake
			continue
		}
		began := time.Now()
		w.apply(ctx, ops)
		if adds(ops) {
			w.pause(ctx, began.Add(writerSpacing))
		}
	}
}

// adds reports whether ops add bans.
func adds(ops []storeOp) bool {
	for _, op := range ops {
		if op.add != nil {
			return true
		}
	}
	return false
}

// pause waits until until, unless someone waits for the writer, it is
// closed, or ctx ends. A hurry signal of a waiter already seen (wait sends
// it under mu) is dropped here, so that it does not cut a later pause.
func (w *writer) pause(ctx context.Context, until time.Time) {
	w.mu.Lock()
	select {
	case <-w.hurry:
	default:
	}
	hurry := len(w.idle) > 0 || w.closed
	w.mu.Unlock()
	d := time.Until(until)
	if hurry || d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.hurry:
	case <-ctx.Done():
	}
}

// apply writes ops in order. A run of additions and checkpoints becomes
// transactions of all the additions, writeChunk rows each, followed by the
// checkpoints (the last of each key): a checkpoint only needs the changes
// before it written, and a flood's bans then share a few large
// transactions however often the jails checkpoint.
func (w *writer) apply(ctx context.Context, ops []storeOp) {
	var (
		buf    []store.Ban
		failed bool // a write of the current run failed
	)
	flush := func() {
		failed = !w.write(ctx, buf) || failed
		clear(buf)
		buf = buf[:0]
	}
	for i := 0; i < len(ops); {
		if ops[i].add != nil || ops[i].mark != nil {
			var marks []*mark
			failed = false
			for ; i < len(ops) && (ops[i].add != nil || ops[i].mark != nil); i++ {
				if ops[i].mark != nil {
					marks = append(marks, ops[i].mark)
					continue
				}
				rb := ops[i].add
				for j := range rb.rows {
					if buf == nil {
						buf = make([]store.Ban, 0, min(writeChunk, w.queued(ops[i:])))
					}
					buf = append(buf, rb.ban(j, w.jails))
					if len(buf) == writeChunk {
						flush()
					}
				}
			}
			if len(buf) > 0 {
				flush()
			}
			if failed {
				// The checkpoints of this run are dropped: they would
				// claim these bans recorded. (A later run's checkpoint
				// moves past them; the error is logged and counted.)
				marks = nil
			}
			w.checkpoints(ctx, marks)
			continue
		}
		op := ops[i]
		i++
		if _, err := w.st.RemoveBans(ctx, op.jail, op.remove); err != nil {
			w.log.Error("removing bans from the store failed", "jail", op.jail, "bans", len(op.remove), "err", err)
			w.onErr()
		}
		if op.forget {
			if _, err := w.st.ForgetHistory(ctx, op.jail, op.remove); err != nil {
				w.log.Error("forgetting ban history failed", "jail", op.jail, "bans", len(op.remove), "err", err)
				w.onErr()
			}
		}
	}
}

// writeChunk is the most rows one transaction of the writer carries: the
// rows are unpacked into store.Bans (and the store's own row texts) a
// chunk at a time, so a long queue (a slow disk under a flood) costs a
// chunk's memory when written, not the queue's.
const writeChunk = 8192

// queued counts the rows of the additions at the head of ops.
func (w *writer) queued(ops []storeOp) int {
	n := 0
	for _, op := range ops {
		if op.add == nil && op.mark == nil {
			break
		}
		if op.add != nil {
			n += len(op.add.rows)
		}
	}
	return n
}

// write records bans in one transaction and reports whether it succeeded.
func (w *writer) write(ctx context.Context, bans []store.Ban) bool {
	if err := w.st.AddBans(ctx, bans); err != nil {
		w.log.Error("recording bans failed; they are in force but will not survive a restart", "bans", len(bans), "err", err)
		w.onErr()
		return false
	}
	return true
}

// checkpoints runs the last mark of each key (there are few keys).
func (w *writer) checkpoints(ctx context.Context, marks []*mark) {
	var keys []string
	for i := len(marks) - 1; i >= 0; i-- {
		mk := marks[i]
		if slices.Contains(keys, mk.key) {
			continue
		}
		keys = append(keys, mk.key)
		if err := mk.fn(ctx); err != nil {
			w.log.Error("checkpoint failed", "key", mk.key, "err", err)
			w.onErr()
		}
	}
}

// pending reports whether some change is not in the database yet.
func (w *writer) pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.busy || len(w.queue) > 0
}

// wait returns once every change queued so far is in the database, or when
// ctx ends.
func (w *writer) wait(ctx context.Context) error {
	w.mu.Lock()
	if !w.busy && len(w.queue) == 0 {
		w.mu.Unlock()
		return nil
	}
	c := make(chan struct{})
	w.idle = append(w.idle, c)
	select {
	case w.hurry <- struct{}{}:
	default:
	}
	w.mu.Unlock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close makes run return once the queue is empty.
func (w *writer) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	select {
	case w.hurry <- struct{}{}:
	default:
	}
}
