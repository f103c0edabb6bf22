package ban

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/action"
	"warden/internal/firewall"
	"warden/internal/jail"
	"warden/internal/store"
)

func TestRestoreActions(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if err := st.AddBans(ctx, []store.Ban{{Jail: "sshd", Prefix: pfx("192.0.2.5"), Time: t0, BanTime: time.Hour, Count: 2}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain, norest := filepath.Join(dir, "plain"), filepath.Join(dir, "norest")
	m, err := New(Config{
		Jails: []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour},
			Actions: []Action{fileAction(t, "sshd", plain, ""), fileAction(t, "sshd", norest, "norestored = 1\n")}}},
		Backends: []firewall.Backend{newMem()}, Store: st, Clock: newFakeClock(t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	running(t, m)
	if err := m.WaitActions(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "ban 192.0.2.5 3600 2 1\n" {
		t.Errorf("restored ban action wrote %q", b)
	}
	if _, err := os.Stat(norest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("norestored action ran: %v", err)
	}
}

// blockingAction is an Action whose Ban waits until released.
type blockingAction struct {
	release chan struct{}
	mu      sync.Mutex
	bans    int
}

func (a *blockingAction) Name() string                                 { return "block" }
func (a *blockingAction) Start(context.Context) error                  { return nil }
func (a *blockingAction) Stop(context.Context) error                   { return nil }
func (a *blockingAction) Prolongable() bool                            { return false }
func (a *blockingAction) NoRestored() bool                             { return false }
func (a *blockingAction) Epoch() int                                   { return 0 }
func (a *blockingAction) HasCheck() bool                               { return false }
func (a *blockingAction) Check(context.Context) error                  { return nil }
func (a *blockingAction) Unban(context.Context, action.Ticket) error   { return nil }
func (a *blockingAction) Reban(context.Context, action.Ticket) error   { return nil }
func (a *blockingAction) Prolong(context.Context, action.Ticket) error { return nil }
func (a *blockingAction) Ban(ctx context.Context, _ action.Ticket) error {
	select {
	case <-a.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	a.mu.Lock()
	a.bans++
	a.mu.Unlock()
	return nil
}

func TestSlowActionBlocksNothingElse(t *testing.T) {
	slow := &blockingAction{release: make(chan struct{})}
	var out string
	e := newEnv(t, func(c *Config) {
		c.Workers = 2
		out = filepath.Join(t.TempDir(), "fast")
		c.Jails = []JailConfig{
			{Name: "slow", BanTime: jail.BanTimeConfig{BanTime: time.Hour}, Actions: []Action{slow}},
			{Name: "fast", BanTime: jail.BanTimeConfig{BanTime: time.Hour}, Actions: []Action{fileAction(t, "fast", out, "")}},
		}
	})
	ctx := context.Background()
	for i := range 3 {
		if res, err := e.m.Ban(ctx, "slow", ticket(addrN(i).String(), t0)); err != nil || !res.Banned {
			t.Fatalf("slow jail ban %d: %+v %v", i, res, err)
		}
	}
	if res, err := e.m.Ban(ctx, "fast", ticket("192.0.2.1", t0)); err != nil || !res.Banned {
		t.Fatalf("fast jail ban: %+v %v", res, err)
	}
	if e.fw.size() != 4 {
		t.Errorf("firewall holds %d, want 4 while an action hangs", e.fw.size())
	}
	// The fast jail's action completes although the slow one hangs: one
	// slow job runs, two wait behind it, nothing else is left.
	e.sync(t) // the fast ban's job is queued
	if err := e.m.pool.wait(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "ban 192.0.2.1 3600 1 0\n" {
		t.Errorf("fast action wrote %q", b)
	}
	// Done: the two jails' actionstart and the fast ban.
	if c := e.m.Counters(); c.ActionsPending != 3 || c.ActionsDone != 3 {
		t.Errorf("actions pending %d done %d, want 3 and 3", c.ActionsPending, c.ActionsDone)
	}
	close(slow.release)
	if err := e.m.WaitActions(ctx); err != nil {
		t.Fatal(err)
	}
	if slow.bans != 3 {
		t.Errorf("slow action ran %d bans", slow.bans)
	}
}

// epochAction records its calls; its epoch is set by the test, as a
// repair after a failed actioncheck would, or moved by Check while broken
// is positive (see check_test.go).
type epochAction struct {
	mu    sync.Mutex
	epoch int
	calls []string
	// checkable: HasCheck; broken: how many Checks still find the
	// action broken and repair it; block, when set, holds Check until
	// closed.
	checkable bool
	broken    int
	block     chan struct{}
}

func (a *epochAction) rec(op string, t action.Ticket) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, op+" "+t.Addr.String())
	return nil
}
func (a *epochAction) Name() string                                   { return "epoch" }
func (a *epochAction) Start(context.Context) error                    { return nil }
func (a *epochAction) Stop(context.Context) error                     { return nil }
func (a *epochAction) Prolongable() bool                              { return false }
func (a *epochAction) NoRestored() bool                               { return false }
func (a *epochAction) Ban(_ context.Context, t action.Ticket) error   { return a.rec("ban", t) }
func (a *epochAction) Reban(_ context.Context, t action.Ticket) error { return a.rec("reban", t) }
func (a *epochAction) Unban(_ context.Context, t action.Ticket) error { return a.rec("unban", t) }
func (a *epochAction) Prolong(_ context.Context, t action.Ticket) error {
	return a.rec("prolong", t)
}
func (a *epochAction) Epoch() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.epoch
}
func (a *epochAction) setEpoch(n int) {
	a.mu.Lock()
	a.epoch = n
	a.mu.Unlock()
}

func TestRebanAfterRepair(t *testing.T) {
	repaired, steady := &epochAction{}, &epochAction{}
	e := newEnv(t, func(c *Config) { c.Jails[0].Actions = []Action{repaired, steady} })
	ctx := context.Background()
	again := func() {
		t.Helper()
		if res, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.1", t0)); err != nil || !res.Already && !res.Banned {
			t.Fatalf("%+v %v", res, err)
		}
		e.sync(t)
		if err := e.m.WaitActions(ctx); err != nil {
			t.Fatal(err)
		}
	}
	again()
	again() // already banned, no repair since: nothing runs
	repaired.setEpoch(1)
	again() // the repaired action rebans, the other does not
	again() // once only
	if got := strings.Join(repaired.calls, ","); got != "ban 192.0.2.1,reban 192.0.2.1" {
		t.Errorf("repaired action: %s", got)
	}
	if got := strings.Join(steady.calls, ","); got != "ban 192.0.2.1" {
		t.Errorf("steady action: %s", got)
	}
}

func TestActionLifecycle(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	a := fileAction(t, "sshd", out, "actionstart = echo start >> <out>\nactionstop = echo stop >> <out>\n")
	m, err := New(Config{
		Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}, Actions: []Action{a}}},
		Backends: []firewall.Backend{newMem()}, Store: openStore(t), Clock: newFakeClock(t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	if _, err := m.Ban(context.Background(), "sshd", ticket("192.0.2.1", t0)); err != nil {
		t.Fatal(err)
	}
	cancel() // the queued ban still runs, then actionstop
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if want := "start\nban 192.0.2.1 3600 1 0\nstop\n"; string(b) != want {
		t.Errorf("actions wrote %q, want %q", b, want)
	}
}
