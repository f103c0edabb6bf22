package ban

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"warden/internal/firewall"
)

func TestHeal(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HealInterval = time.Minute; c.Jails[0].Actions = nil })
	ctx := context.Background()
	for i := range 5 {
		if _, err := e.m.Ban(ctx, "sshd", ticket(addrN(i).String(), t0)); err != nil {
			t.Fatal(err)
		}
	}
	// An administrator flushes the set.
	e.fw.mu.Lock()
	clear(e.fw.set)
	e.fw.mu.Unlock()
	e.clk.Advance(time.Minute)
	e.sync(t)
	if e.fw.size() != 5 {
		t.Errorf("after heal the firewall holds %d, want 5", e.fw.size())
	}
	c := e.m.Counters()
	if c.Healed != 1 || c.HealedBans != 5 {
		t.Errorf("counters %+v", c)
	}
	e.clk.Advance(time.Minute)
	e.sync(t)
	if c := e.m.Counters(); c.Healed != 1 || len(e.fw.heals) != 2 {
		t.Errorf("second heal: counters %+v, %d heal calls", c, len(e.fw.heals))
	}
}

func TestUnbanDuringHeal(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HealInterval = time.Minute; c.Jails[0].Actions = nil })
	ctx := context.Background()
	for _, a := range []string{"192.0.2.1", "192.0.2.2"} {
		if _, err := e.m.Ban(ctx, "sshd", ticket(a, t0)); err != nil {
			t.Fatal(err)
		}
	}
	e.fw.healBlock, e.fw.healEntered = make(chan struct{}), make(chan struct{})
	e.clk.Advance(time.Minute)
	<-e.fw.healEntered // the heal round has its snapshot: both bans
	// Banning goes on while the heal runs.
	if res, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.3", e.clk.Now())); err != nil || !res.Banned {
		t.Fatalf("ban during heal: %+v %v", res, err)
	}
	if _, err := e.m.Unban(ctx, "sshd", []netip.Prefix{pfx("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	e.fw.mu.Lock()
	clear(e.fw.set) // flushed by an administrator: Heal puts back its snapshot
	e.fw.mu.Unlock()
	close(e.fw.healBlock)
	e.sync(t)
	if _, ok := e.fw.has("sshd", pfx("192.0.2.1")); ok {
		t.Error("a ban lifted during the heal came back")
	}
	if _, ok := e.fw.has("sshd", pfx("192.0.2.2")); !ok {
		t.Error("the heal did not put 192.0.2.2 back")
	}
	if c := e.m.Counters(); c.HealedBans != 2 {
		t.Errorf("healed bans %d, want 2", c.HealedBans)
	}
}

// TestRebanDuringHeal: a ban lifted while a heal round runs and made again
// before the round ends stays in the firewall; the round's end lifts only
// the bans still lifted.
func TestRebanDuringHeal(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HealInterval = time.Minute; c.Jails[0].Actions = nil })
	ctx := context.Background()
	if _, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.1", t0)); err != nil {
		t.Fatal(err)
	}
	e.fw.healBlock, e.fw.healEntered = make(chan struct{}), make(chan struct{})
	e.clk.Advance(time.Minute)
	<-e.fw.healEntered
	if _, err := e.m.Unban(ctx, "sshd", []netip.Prefix{pfx("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	if res, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.1", e.clk.Now())); err != nil || !res.Banned {
		t.Fatalf("ban again during heal: %+v %v", res, err)
	}
	close(e.fw.healBlock)
	e.sync(t)
	if _, ok := e.fw.has("sshd", pfx("192.0.2.1")); !ok {
		t.Error("a ban made again during the heal was lifted at its end")
	}
}

// needlessBackend is a memBackend that says whether it needs a heal round.
type needlessBackend struct {
	*memBackend
	needed bool
}

func (b *needlessBackend) HealNeeded() bool { return b.needed }

func TestHealNeeded(t *testing.T) {
	var nb *needlessBackend
	e := newEnv(t, func(c *Config) {
		c.HealInterval = time.Minute
		c.Jails[0].Actions = nil
		nb = &needlessBackend{memBackend: c.Backends[0].(*memBackend)}
		c.Backends[0] = nb
	})
	ctx := context.Background()
	if _, err := e.m.Ban(ctx, "sshd", ticket(addrN(1).String(), t0)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		needed bool
		heals  int // Heal calls so far
	}{
		{false, 0},
		{true, 1},
		{false, 1},
		{true, 2},
	}
	for i, tt := range tests {
		nb.needed = tt.needed
		e.clk.Advance(time.Minute)
		e.sync(t)
		e.fw.mu.Lock()
		n := len(e.fw.heals)
		e.fw.mu.Unlock()
		if n != tt.heals {
			t.Fatalf("round %d (needed %v): %d heal calls, want %d", i, tt.needed, n, tt.heals)
		}
	}
}

// TestHealPutOffDuringBans: a round due while a flood keeps the queue
// busy waits for a quiet second (by the manager's clock), then runs,
// unless a backend says it changed under us; bans that come one by one,
// however steadily, never put it off (a foreign flush must be mended
// within seconds while they trickle in).
func TestHealPutOffDuringBans(t *testing.T) {
	heals := func(fw *memBackend) int {
		fw.mu.Lock()
		defer fw.mu.Unlock()
		return len(fw.heals)
	}
	t.Run("trickle", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.HealInterval = 5 * time.Second; c.Jails[0].Actions = nil })
		// One ban every 0.9 s, the last 0.3 s before the round is due.
		e.clk.Advance(5*time.Second - 3*900*time.Millisecond - 300*time.Millisecond)
		for i := range 3 {
			if _, err := e.m.Ban(t.Context(), "sshd", ticket(addrN(i).String(), e.clk.Now())); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(900 * time.Millisecond)
		}
		if _, err := e.m.Ban(t.Context(), "sshd", ticket(addrN(3).String(), e.clk.Now())); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(300 * time.Millisecond) // due, the last ban 0.3 s old
		e.sync(t)
		if n := heals(e.fw); n != 1 {
			t.Fatalf("%d heal rounds when due among single bans, want 1", n)
		}
	})
	for _, owed := range []bool{false, true} {
		name := "flood"
		if owed {
			name = "flood, the backend says it changed"
		}
		t.Run(name, func(t *testing.T) {
			fw := newMem()
			fw.block, fw.entered = make(chan struct{}), make(chan struct{}, 1)
			var b firewall.Backend = fw
			if owed {
				b = &needlessBackend{memBackend: fw, needed: true}
			}
			e := newEnv(t, func(c *Config) {
				c.HealInterval = time.Minute
				c.Jails[0].Actions = nil
				c.Backends = []firewall.Backend{b}
			})
			e.fw = fw
			e.clk.Advance(time.Minute - 500*time.Millisecond)
			// The loop is held in a firewall call while a flood queues up
			// behind it, so that it takes the flood in one batch.
			if err := e.m.Submit(t.Context(), "sshd", ticket(addrN(0).String(), e.clk.Now())); err != nil {
				t.Fatal(err)
			}
			<-fw.entered
			for i := 1; i <= floodBatch+4; i++ {
				if err := e.m.Submit(t.Context(), "sshd", ticket(addrN(i).String(), e.clk.Now())); err != nil {
					t.Fatal(err)
				}
			}
			close(fw.block)
			e.sync(t)
			if calls, _ := fw.calls(); len(calls) != 2 || calls[1] < floodBatch {
				t.Fatalf("firewall calls %v: the flood did not come as one batch", calls)
			}
			e.clk.Advance(500 * time.Millisecond) // the round is due, the flood 0.5 s old
			e.sync(t)
			want := 0 // put off
			if owed {
				want = 1 // a change under the backend is mended at once
			}
			if n := heals(fw); n != want {
				t.Fatalf("%d heal rounds half a second after a flood, want %d", n, want)
			}
			e.clk.Advance(500 * time.Millisecond)
			e.sync(t)
			if n := heals(fw); n != 1 {
				t.Fatalf("%d heal rounds after a quiet second, want 1", n)
			}
		})
	}
}
