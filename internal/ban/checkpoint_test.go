package ban

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/jail"
	"warden/internal/store"
)

// TestCheckpointAfterBans: a checkpoint runs only once the bans queued
// before it are in the database, whether they came one by one (Submit) or
// several to a request (SubmitAll), and of several with one key waiting
// together only the last runs.
func TestCheckpointAfterBans(t *testing.T) {
	for _, tc := range []struct {
		name string
		per  int // tickets a SubmitAll; 1: Submit
	}{{"Submit", 1}, {"SubmitAll", 50}, {"SubmitAll of 7", 7}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Jails[0].Actions = nil })
			ctx := context.Background()
			var mu sync.Mutex
			var ran []string
			seen := map[string]int{} // checkpoint -> stored bans when it ran
			for round := range 3 {
				var ts []jail.Ticket
				for i := range 50 {
					ts = append(ts, ticket(addrN(round*50+i+1).String(), t0))
				}
				for len(ts) > 0 {
					k := min(tc.per, len(ts))
					var err error
					if tc.per == 1 {
						err = e.m.Submit(ctx, "sshd", ts[0])
					} else {
						err = e.m.SubmitAll(ctx, "sshd", ts[:k:k])
					}
					if err != nil {
						t.Fatal(err)
					}
					ts = ts[k:]
				}
				name := fmt.Sprintf("pos#%d", round)
				if err := e.m.Checkpoint(ctx, "pos", func(context.Context) error {
					n := len(storedBans(t, e.st, t0))
					mu.Lock()
					defer mu.Unlock()
					ran = append(ran, name)
					seen[name] = n
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			e.sync(t)
			mu.Lock()
			defer mu.Unlock()
			if len(ran) == 0 || ran[len(ran)-1] != "pos#2" {
				t.Fatalf("checkpoints run: %v; want the last one, pos#2, last", ran)
			}
			for _, name := range ran {
				var round int
				fmt.Sscanf(name, "pos#%d", &round)
				if want := (round + 1) * 50; seen[name] < want {
					t.Errorf("%s ran with %d bans stored, want at least %d", name, seen[name], want)
				}
			}
			if n := len(storedBans(t, e.st, t0)); n != 150 {
				t.Errorf("%d bans stored, want 150", n)
			}
		})
	}
}

// TestDrainAtShutdown: requests queued when Run's context ends are still
// served: their bans reach the store and their checkpoints run. The first
// ban holds the loop in the firewall until the context is cancelled, so the
// rest are still queued then.
func TestDrainAtShutdown(t *testing.T) {
	gate := make(chan struct{})
	fw := &gatedBackend{Backend: newMem(), gate: gate, entered: make(chan struct{})}
	st := openStore(t)
	m, err := New(Config{
		Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}}},
		Backends: []firewall.Backend{fw},
		Store:    st,
		Clock:    newFakeClock(t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-m.Ready()
	bg := context.Background()
	if err := m.Submit(bg, "sshd", ticket(addrN(1).String(), t0)); err != nil {
		t.Fatal(err)
	}
	<-fw.entered
	const n = 200
	for i := 1; i < n; i++ {
		if err := m.Submit(bg, "sshd", ticket(addrN(i+1).String(), t0)); err != nil {
			t.Fatal(err)
		}
	}
	checked := make(chan int, 1)
	if err := m.Checkpoint(bg, "pos", func(ctx context.Context) error {
		checked <- len(storedBans(t, st, t0))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cancel()
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(storedBans(t, st, t0)); got != n {
		t.Fatalf("%d bans stored after shutdown, want %d", got, n)
	}
	select {
	case got := <-checked:
		if got != n {
			t.Fatalf("checkpoint saw %d bans stored, want %d", got, n)
		}
	default:
		t.Fatal("checkpoint did not run")
	}
}

// gatedBackend holds its first Ban call until gate is closed.
type gatedBackend struct {
	firewall.Backend
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (b *gatedBackend) Ban(ctx context.Context, bans []firewall.Ban) error {
	b.once.Do(func() {
		close(b.entered)
		<-b.gate
	})
	return b.Backend.Ban(ctx, bans)
}

// TestCheckpointDroppedWhenBansFail: in a writer round, checkpoints behind
// bans the store failed to record do not run; a later round's do.
func TestCheckpointDroppedWhenBansFail(t *testing.T) {
	st := failingStore{openStore(t)}
	errs := 0
	w := newWriter(st, []string{"sshd"}, slog.New(slog.DiscardHandler), func() { errs++ })
	var ran []string
	mk := func(name string) *mark {
		return &mark{key: "pos", fn: func(context.Context) error { ran = append(ran, name); return nil }}
	}
	ban := store.Ban{Jail: "sshd", Prefix: pfx("192.0.2.1"), Time: t0, BanTime: time.Hour, Count: 1}
	ctx := context.Background()
	w.apply(ctx, []storeOp{{mark: mk("before")}, {add: packBans(t, w.jails, ban)}, {mark: mk("after")}})
	w.apply(ctx, []storeOp{{mark: mk("later")}})
	if !slices.Equal(ran, []string{"later"}) || errs != 1 {
		t.Fatalf("checkpoints run: %v, errors %d; want only later, one error", ran, errs)
	}
}
