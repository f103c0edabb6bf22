package ban

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"warden/internal/store"
)

// gatedStore holds its first AddBans call until gate is closed.
type gatedStore struct {
	Store
	gate, entered chan struct{}
	once          sync.Once
}

func (s *gatedStore) AddBans(ctx context.Context, bans []store.Ban) error {
	s.once.Do(func() {
		close(s.entered)
		<-s.gate
	})
	return s.Store.AddBans(ctx, bans)
}

// TestWriterWaiterLeavesNoHurry: the hurry signal of a waiter that came
// during a transaction does not stay behind, once the waiter is answered,
// to cut the spacing of a later transaction short.
func TestWriterWaiterLeavesNoHurry(t *testing.T) {
	st := &gatedStore{Store: openStore(t), gate: make(chan struct{}), entered: make(chan struct{})}
	w := newWriter(st, []string{"sshd"}, slog.New(slog.DiscardHandler), func() {})
	ctx := t.Context()
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		w.run(ctx)
	}()
	defer func() {
		w.close()
		<-ran
	}()
	w.push(storeOp{add: packBans(t, w.jails, store.Ban{Jail: "sshd", Prefix: pfx("192.0.2.1"), Time: t0, BanTime: time.Hour, Count: 1})})
	<-st.entered
	waited := make(chan error, 1)
	go func() { waited <- w.wait(ctx) }()
	for { // the waiter is registered while the transaction runs
		w.mu.Lock()
		n := len(w.idle)
		w.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(st.gate)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	w.mu.Lock() // the writer is idle again: the queue was empty for the waiter
	left := len(w.hurry)
	w.mu.Unlock()
	if left != 0 {
		t.Errorf("%d hurry signal left behind for the next pause", left)
	}
}
