package ban

import (
	"context"
	"slices"
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
	deadline := time.Now().Add(30 * time.Second)
	for e.fw.size() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("30 s after Changed the firewall holds %d bans, want 3", e.fw.size())
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.sync(t)
	if c := e.m.Counters(); c.Healed != 1 || c.HealedBans != 3 {
		t.Errorf("counters after heal: %+v", c)
	}
}

// chanWatcher is a firewall.Watcher that is no backend, as given in
// Config.Watchers.
type chanWatcher chan struct{}

func (w chanWatcher) Changed() <-chan struct{} { return w }

// startedAction is an epochAction that tells when a Check begins.
type startedAction struct {
	*epochAction
	started chan struct{}
}

func (a startedAction) Check(ctx context.Context) error {
	a.started <- struct{}{}
	return a.epochAction.Check(ctx)
}

// waitCalls polls a's calls until they number n, or fails after 30 s (a loaded machine).
func waitCalls(t *testing.T, a *epochAction, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := a.log()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls after 30 s: %q, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCheckOnWatcher: a change told by one of Config.Watchers (firewalld
// reloading under shell actions) runs the jail's actioncheck at once, with
// the clock standing still, and a repair rebans; without a change no check
// runs.
func TestCheckOnWatcher(t *testing.T) {
	a := &epochAction{checkable: true, broken: 1}
	w := make(chanWatcher)
	e := newEnv(t, func(c *Config) {
		c.HealInterval = time.Hour
		c.Jails[0].Actions = []Action{a}
		c.Watchers = []firewall.Watcher{w}
	})
	ctx := context.Background()
	for _, addr := range []string{"192.0.2.1", "192.0.2.2"} {
		if _, err := e.m.Ban(ctx, "sshd", ticket(addr, t0)); err != nil {
			t.Fatal(err)
		}
	}
	e.sync(t)
	if err := e.m.WaitActions(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.log(); len(got) != 2 || slices.Contains(got, "check") {
		t.Fatalf("calls before any change: %q, want the two bans only", got)
	}
	w <- struct{}{}
	got := waitCalls(t, a, 5)
	slices.Sort(got[3:])
	want := []string{"ban 192.0.2.1", "ban 192.0.2.2", "check", "reban 192.0.2.1", "reban 192.0.2.2"}
	if !slices.Equal(got, want) {
		t.Errorf("calls after a change: %q, want %q", got, want)
	}
}

// TestCheckAgainAfterChange: a change that comes while a check runs (it
// may have looked before the change) is followed by one more check; a
// periodic round meanwhile is not (TestCheckOneInFlight).
func TestCheckAgainAfterChange(t *testing.T) {
	a := startedAction{&epochAction{checkable: true, block: make(chan struct{})}, make(chan struct{}, 4)}
	w := make(chanWatcher)
	e := newEnv(t, func(c *Config) {
		c.HealInterval = time.Minute
		c.Jails[0].Actions = []Action{a}
		c.Watchers = []firewall.Watcher{w}
	})
	e.clk.Advance(time.Minute)
	select {
	case <-a.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the heal round's check did not start")
	}
	w <- struct{}{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.m.pool.mu.Lock()
		asked := e.m.pool.recheck["sshd"]
		e.m.pool.mu.Unlock()
		if asked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the change during the check asked for no second check")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(a.block)
	waitCalls(t, a.epochAction, 2)
	if err := e.m.WaitActions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := a.log(); !slices.Equal(got, []string{"check", "check"}) {
		t.Errorf("calls: %q, want two checks", got)
	}
}
