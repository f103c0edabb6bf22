package firewall

import (
	"context"
	"errors"
	"sync"
	"testing"
)

type fakeDrift struct{ missing int }

func (d fakeDrift) Repair() Repair { return Repair{Bans: d.missing} }

// lockCheck is a sync.Locker that records whether diff and fix ran under it.
type lockCheck struct {
	sync.Mutex
	held bool
}

func (l *lockCheck) Lock()   { l.Mutex.Lock(); l.held = true }
func (l *lockCheck) Unlock() { l.held = false; l.Mutex.Unlock() }

func TestReconcile(t *testing.T) {
	boom := errors.New("boom")
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		diffErr  error
		heal     bool
		fixErr   error
		want     Repair
		wantErr  error
		wantDiff bool
		wantFix  bool
	}{
		{name: "check", ctx: context.Background(), want: Repair{Bans: 3}, wantDiff: true},
		{name: "heal", ctx: context.Background(), heal: true, want: Repair{Bans: 3}, wantDiff: true, wantFix: true},
		{name: "done context", ctx: done, heal: true, wantErr: context.Canceled},
		{name: "diff fails", ctx: context.Background(), diffErr: boom, heal: true, wantErr: boom, wantDiff: true},
		{name: "fix fails", ctx: context.Background(), heal: true, fixErr: boom, wantErr: boom, wantDiff: true, wantFix: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu lockCheck
			var diffRan, fixRan bool
			diff := func() (fakeDrift, error) {
				diffRan = true
				if !mu.held {
					t.Error("diff ran without the lock")
				}
				return fakeDrift{3}, tc.diffErr
			}
			var fix func(fakeDrift) error
			if tc.heal {
				fix = func(d fakeDrift) error {
					fixRan = true
					if !mu.held || d.missing != 3 {
						t.Errorf("fix got %+v, lock held %v", d, mu.held)
					}
					return tc.fixErr
				}
			}
			got, err := Reconcile(tc.ctx, &mu, diff, fix)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("Reconcile = %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
			}
			if diffRan != tc.wantDiff || fixRan != tc.wantFix {
				t.Errorf("diff ran %v, fix ran %v; want %v, %v", diffRan, fixRan, tc.wantDiff, tc.wantFix)
			}
			if mu.held {
				t.Error("lock still held")
			}
		})
	}
}
