package firewall

import (
	"context"
	"errors"
	"net/netip"
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
			read := func() (struct{}, error) { return struct{}{}, nil }
			diff := func(struct{}) (fakeDrift, error) {
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
			got, err := ReconcileRead(tc.ctx, &mu, read, diff, fix)
			if got != tc.want || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("ReconcileRead = %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
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

func TestReconcileReadOutsideLock(t *testing.T) {
	var mu lockCheck
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		readErr error
		wantErr error
		diffRan bool
	}{
		{name: "read then diff", diffRan: true},
		{name: "read fails", readErr: boom, wantErr: boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffRan := false
			read := func() (int, error) {
				if mu.held {
					t.Error("read ran with the lock held")
				}
				return 7, tc.readErr
			}
			diff := func(r int) (fakeDrift, error) {
				diffRan = true
				if !mu.held || r != 7 {
					t.Errorf("diff got %d, lock held %v", r, mu.held)
				}
				return fakeDrift{r}, nil
			}
			got, err := ReconcileRead(context.Background(), &mu, read, diff, nil)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if diffRan != tc.diffRan || (err == nil && got.Bans != 7) {
				t.Errorf("got %+v, diff ran %v", got, diffRan)
			}
		})
	}
}

func TestChangeLog(t *testing.T) {
	a := BanKey{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.1/32")}
	b := BanKey{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.2/32")}
	c := BanKey{Jail: "web", Prefix: netip.MustParsePrefix("192.0.2.1/32")}
	// Each step is n (Note), r (Reset), b1/b2 (Begin read 1/2), e1/e2 (End).
	type step struct {
		op  string
		key BanKey
	}
	for _, tc := range []struct {
		name      string
		steps     []step
		touched   map[string][]BanKey // by read: keys reported touched
		reset     map[string]bool
		untouched []BanKey // reported by no read
	}{
		{
			name:    "note during read",
			steps:   []step{{"b1", BanKey{}}, {"n", a}, {"e1", BanKey{}}},
			touched: map[string][]BanKey{"e1": {a}},
		},
		{
			name:      "note before read is not stale",
			steps:     []step{{"n", a}, {"b1", BanKey{}}, {"n", b}, {"e1", BanKey{}}},
			touched:   map[string][]BanKey{"e1": {b}},
			untouched: []BanKey{a, c},
		},
		{
			name:      "note after end is forgotten",
			steps:     []step{{"b1", BanKey{}}, {"e1", BanKey{}}, {"n", a}, {"b2", BanKey{}}, {"e2", BanKey{}}},
			untouched: []BanKey{a},
		},
		{
			name: "overlapping reads",
			steps: []step{{"b1", BanKey{}}, {"n", a}, {"b2", BanKey{}}, {"n", b}, {"e1", BanKey{}},
				{"n", c}, {"e2", BanKey{}}},
			touched: map[string][]BanKey{"e1": {a, b}, "e2": {b, c}},
		},
		{
			name:    "setup during read",
			steps:   []step{{"b1", BanKey{}}, {"r", BanKey{}}, {"e1", BanKey{}}, {"b2", BanKey{}}, {"e2", BanKey{}}},
			reset:   map[string]bool{"e1": true},
			touched: map[string][]BanKey{},
		},
		{
			name:    "a key noted again stays touched for the older read",
			steps:   []step{{"b1", BanKey{}}, {"n", a}, {"b2", BanKey{}}, {"n", a}, {"e2", BanKey{}}, {"e1", BanKey{}}},
			touched: map[string][]BanKey{"e1": {a}, "e2": {a}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l ChangeLog
			marks := map[string]Mark{}
			for _, s := range tc.steps {
				switch s.op[0] {
				case 'n':
					l.Note(s.key)
				case 'r':
					l.Reset()
				case 'b':
					marks[s.op[1:]] = l.Begin()
				case 'e':
					ch := l.End(marks[s.op[1:]])
					want := tc.touched[s.op]
					if ch.Len() != len(want) || ch.Reset != tc.reset[s.op] {
						t.Errorf("%s: %d touched, reset %v; want %v, reset %v", s.op, ch.Len(), ch.Reset, want, tc.reset[s.op])
					}
					for _, k := range want {
						if !ch.Touched(k) {
							t.Errorf("%s: %v not touched", s.op, k)
						}
					}
					for _, k := range tc.untouched {
						if ch.Touched(k) {
							t.Errorf("%s: %v touched", s.op, k)
						}
					}
				}
			}
			if l.open != 0 || l.touched != nil {
				t.Errorf("log not empty after every read ended: open %d, %d keys", l.open, len(l.touched))
			}
		})
	}
}
