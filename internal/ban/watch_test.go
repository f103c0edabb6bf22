package ban

import (
	"context"
	"testing"
	"time"

	"warden/internal/firewall"
)

// watchingMem is a memBackend that is also a firewall.Watcher.
type watchingMem struct {
	*memBackend
	ch chan struct{}
}

var _ firewall.Watcher = (*watchingMem)(nil)

func (w *watchingMem) Changed() <-chan struct{} { return w.ch }

// TestHealOnChanged checks that a Watcher's notification starts a heal at
// once, with periodic healing off and the clock standing still.
func TestHealOnChanged(t *testing.T) {
	var w *watchingMem
	e := newEnv(t, func(c *Config) {
		c.HealInterval = 0
		c.Jails[0].Actions = nil
		w = &watchingMem{memBackend: c.Backends[0].(*memBackend), ch: make(chan struct{})}
		c.Backends = []firewall.Backend{w}
	})
	ctx := context.Background()
	for i := range 3 {
		if _, err := e.m.Ban(ctx, "sshd", ticket(addrN(i).String(), t0)); err != nil {
			t.Fatal(err)
		}
	}
	// The firewall is reloaded under us and loses the bans.
	e.fw.mu.Lock()
	clear(e.fw.set)
	e.fw.mu.Unlock()
	e.sync(t)
	if n := e.fw.size(); n != 0 {
		t.Fatalf("healed without a notification: %d bans back", n)
	}
	w.ch <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for e.fw.size() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("5 s after Changed the firewall holds %d bans, want 3", e.fw.size())
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.sync(t)
	if c := e.m.Counters(); c.Healed != 1 || c.HealedBans != 3 {
		t.Errorf("counters after heal: %+v", c)
	}
}
