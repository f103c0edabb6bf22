package ban

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func (a *epochAction) HasCheck() bool { return a.checkable }

// Check records the call and, while broken is positive, repairs the
// action: its epoch moves, as after a failed actioncheck.
func (a *epochAction) Check(ctx context.Context) error {
	if a.block != nil {
		select {
		case <-a.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "check")
	if a.broken > 0 {
		a.broken--
		a.epoch++
	}
	return nil
}

func (a *epochAction) log() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// round advances the clock by one heal interval and waits for the round's
// check jobs and the rebans they queued.
func (e *env) round(t *testing.T, d time.Duration) {
	t.Helper()
	e.clk.Advance(d)
	e.sync(t)
	if err := e.m.WaitActions(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCheckRepairRebans(t *testing.T) {
	broken := &epochAction{checkable: true, broken: 1}
	sane := &epochAction{checkable: true}
	unchecked := &epochAction{}
	e := newEnv(t, func(c *Config) {
		c.HealInterval = time.Minute
		c.Jails[0].Actions = []Action{broken, sane, unchecked}
	})
	ctx := context.Background()
	addrs := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}
	for _, a := range addrs {
		if _, err := e.m.Ban(ctx, "sshd", ticket(a, t0)); err != nil {
			t.Fatal(err)
		}
	}
	e.sync(t)
	if err := e.m.WaitActions(ctx); err != nil {
		t.Fatal(err)
	}
	// Round 1: the broken action's check repairs it: every ban is
	// rebanned there, once; the sane action is checked and left alone.
	e.round(t, time.Minute)
	// Round 2: nothing is broken any more: checks only.
	e.round(t, time.Minute)

	// Bans run in queue order, rebans in map order: between checks the
	// calls are compared sorted.
	got := func(a *epochAction) string {
		var segs []string
		for seg := range strings.SplitSeq(strings.Join(a.log(), ","), "check") {
			parts := strings.FieldsFunc(seg, func(r rune) bool { return r == ',' })
			slices.Sort(parts)
			segs = append(segs, strings.Join(parts, ","))
		}
		return strings.Join(segs, "|")
	}
	const ban = "ban 192.0.2.1,ban 192.0.2.2,ban 192.0.2.3"
	for _, c := range []struct {
		name string
		a    *epochAction
		want string
	}{
		{"repaired", broken, ban + "|reban 192.0.2.1,reban 192.0.2.2,reban 192.0.2.3|"},
		{"sane", sane, ban + "||"},
		{"without check", unchecked, ban},
	} {
		if g := got(c.a); g != c.want {
			t.Errorf("%s action:\n got %s\nwant %s", c.name, g, c.want)
		}
	}
}

// TestCheckOneInFlight: a check still running when the next round comes
// is not queued again.
func TestCheckOneInFlight(t *testing.T) {
	a := &epochAction{checkable: true, block: make(chan struct{})}
	e := newEnv(t, func(c *Config) {
		c.HealInterval = time.Minute
		c.Jails[0].Actions = []Action{a}
	})
	for range 3 {
		e.clk.Advance(time.Minute)
		e.sync(t)
	}
	close(a.block)
	if err := e.m.WaitActions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := a.log(); len(got) != 1 {
		t.Errorf("checks while one was running: %q", got)
	}
	e.round(t, time.Minute)
	if got := a.log(); len(got) != 2 {
		t.Errorf("checks after the blocked one ended: %q", got)
	}
}

// TestCheckShellAction: a real shell action whose actioncheck fails (its
// chain, a file here, was removed) is restarted at the next heal round and
// its bans are put back.
func TestCheckShellAction(t *testing.T) {
	dir := t.TempDir()
	out, chain := filepath.Join(dir, "out"), filepath.Join(dir, "chain")
	extra := "actionstart = echo start >> <out>\n  touch " + chain + "\n" +
		"actionstop = echo stop >> <out>\n  rm -f " + chain + "\n" +
		"actioncheck = test -f " + chain + "\n"
	e := newEnv(t, func(c *Config) {
		c.HealInterval = time.Minute
		c.Jails[0].Actions = []Action{fileAction(t, "sshd", out, extra)}
	})
	e.out = out
	if _, err := e.m.Ban(context.Background(), "sshd", ticket("192.0.2.1", t0)); err != nil {
		t.Fatal(err)
	}
	e.round(t, time.Minute) // sane: nothing runs but the check
	if err := os.Remove(chain); err != nil {
		t.Fatal(err)
	}
	e.round(t, time.Minute)
	e.round(t, time.Minute)
	want := []string{"start", "ban 192.0.2.1 600 1 0", "stop", "start", "ban 192.0.2.1 600 1 0"}
	if got := e.lines(t); !slices.Equal(got, want) {
		t.Errorf("action wrote\n%q\nwant\n%q", got, want)
	}
	if _, err := os.Stat(chain); err != nil {
		t.Errorf("chain not restored: %v", err)
	}
}
