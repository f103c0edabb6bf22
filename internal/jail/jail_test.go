package jail

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var base = time.Unix(1_700_000_000, 0)

// fakeClock is a settable clock for a jail.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func fail(addr string, at time.Duration, lines ...string) Failure {
	a := netip.MustParseAddr(addr)
	return Failure{Host: addr, Addr: a, Time: base.Add(at), Lines: lines}
}

func TestAddFailure(t *testing.T) {
	type step struct {
		f      Failure
		now    time.Duration // clock, from base
		wantOK bool
	}
	tests := []struct {
		name  string
		cfg   Config
		inOp  bool
		steps []step
		check func(t *testing.T, tk Ticket)
		stats Stats
	}{
		{
			name: "maxretry",
			cfg:  Config{MaxRetry: 3, FindTime: time.Minute},
			inOp: true,
			steps: []step{
				{fail("192.0.2.1", 0), 0, false},
				{fail("192.0.2.1", 10*time.Second), 10 * time.Second, false},
				{fail("192.0.2.1", 20*time.Second), 20 * time.Second, true},
				{fail("192.0.2.1", 30*time.Second), 30 * time.Second, false},
			},
			check: func(t *testing.T, tk Ticket) {
				if tk.Failures != 3 || tk.Retry != 3 || !tk.Time.Equal(base.Add(20*time.Second)) {
					t.Errorf("ticket %+v", tk)
				}
				if tk.Prefix != netip.MustParsePrefix("192.0.2.1/32") || tk.ID != "192.0.2.1" {
					t.Errorf("ticket id %q prefix %v", tk.ID, tk.Prefix)
				}
			},
			stats: Stats{Failures: 4, Bans: 1, Tracked: 1},
		},
		{
			name: "expired between failures",
			cfg:  Config{MaxRetry: 2, FindTime: time.Minute},
			inOp: true,
			steps: []step{
				{fail("192.0.2.1", 0), 0, false},
				{fail("192.0.2.1", 60*time.Second), 60 * time.Second, false},
				{fail("192.0.2.1", 61*time.Second), 61 * time.Second, true},
			},
			stats: Stats{Failures: 3, Bans: 1, Expired: 1},
		},
		{
			name: "obsolete while reading old lines",
			cfg:  Config{MaxRetry: 2, FindTime: time.Minute},
			steps: []step{
				{fail("192.0.2.1", 0), 61 * time.Second, false},
				{fail("192.0.2.1", 1*time.Second), 61 * time.Second, false}, // purged at once
				{fail("192.0.2.1", 5*time.Second), 61 * time.Second, false},
				{fail("192.0.2.1", 6*time.Second), 61 * time.Second, true},
			},
			stats: Stats{Failures: 3, Obsolete: 1, Bans: 1, Expired: 1},
		},
		{
			name: "odd stamp in operation is now",
			cfg:  Config{MaxRetry: 2, FindTime: time.Minute},
			inOp: true,
			steps: []step{
				{fail("192.0.2.1", -time.Hour), 0, false},
				{fail("192.0.2.1", time.Hour), 0, true},
			},
			check: func(t *testing.T, tk Ticket) {
				if !tk.Time.Equal(base) {
					t.Errorf("ticket time %v, want now", tk.Time)
				}
			},
			stats: Stats{Failures: 2, Clamped: 2, Bans: 1},
		},
		{
			name:  "future stamp within a minute is now",
			cfg:   Config{MaxRetry: 1},
			inOp:  true,
			steps: []step{{fail("192.0.2.1", 30*time.Second), 0, true}},
			check: func(t *testing.T, tk Ticket) {
				if !tk.Time.Equal(base) {
					t.Errorf("ticket time %v, want now", tk.Time)
				}
			},
			stats: Stats{Failures: 1, Clamped: 1, Bans: 1},
		},
		{
			name: "maxmatches keeps the newest, nofail lines included",
			cfg:  Config{MaxRetry: 3, MaxMatches: 3},
			inOp: true,
			steps: []step{
				{Failure{ID: "192.0.2.9", Addr: netip.MustParseAddr("192.0.2.9"), Time: base, Lines: []string{"n1"}, NoFail: true}, 0, false},
				{fail("192.0.2.9", 0, "a"), 0, false},
				{fail("192.0.2.9", time.Second, "b", "c"), time.Second, false},
				{fail("192.0.2.9", 2*time.Second, "d"), 2 * time.Second, true},
			},
			check: func(t *testing.T, tk Ticket) {
				if want := []string{"b", "c", "d"}; !slices.Equal(tk.Matches, want) {
					t.Errorf("matches %q, want %q", tk.Matches, want)
				}
			},
			stats: Stats{Failures: 3, NoFail: 1, Bans: 1},
		},
		{
			name: "nofail counts nothing",
			cfg:  Config{MaxRetry: 1, MaxMatches: 5},
			inOp: true,
			steps: []step{
				{Failure{ID: "s1", Time: base, Lines: []string{"x"}, NoFail: true}, 0, false},
				{Failure{ID: "s1", Time: base, Lines: []string{"y"}, NoFail: true}, 0, false},
				{Failure{ID: "s1", Time: base, Lines: []string{"z"}}, 0, true},
			},
			check: func(t *testing.T, tk Ticket) {
				if want := []string{"x", "y", "z"}; !slices.Equal(tk.Matches, want) || tk.Failures != 1 {
					t.Errorf("ticket %+v", tk)
				}
				if tk.Addr.IsValid() || tk.Prefix.IsValid() {
					t.Errorf("id ticket with an address: %+v", tk)
				}
			},
			stats: Stats{Failures: 1, NoFail: 2, Bans: 1},
		},
		{
			name: "ban prefix",
			cfg:  Config{MaxRetry: 1, BanPrefix4: 24, BanPrefix6: 64},
			inOp: true,
			steps: []step{
				{fail("192.0.2.77", 0), 0, true},
				{fail("2001:db8:1:2:3::4", 0), 0, true},
				{fail("::ffff:198.51.100.7", 0), 0, true},
			},
			check: func(t *testing.T, tk Ticket) {
				if tk.Prefix != netip.MustParsePrefix("198.51.100.0/24") || tk.ID != "198.51.100.7" {
					t.Errorf("mapped address ticket %+v", tk)
				}
			},
			stats: Stats{Failures: 3, Bans: 3},
		},
		{
			name: "count by prefix",
			cfg:  Config{MaxRetry: 3, BanPrefix4: 24, CountByPrefix: true},
			inOp: true,
			steps: []step{
				{fail("192.0.2.1", 0), 0, false},
				{fail("192.0.2.2", 0), 0, false},
				{fail("192.0.3.3", 0), 0, false},
				{fail("192.0.2.3", 0), 0, true},
			},
			check: func(t *testing.T, tk Ticket) {
				if tk.ID != "192.0.2.0/24" || tk.Prefix != netip.MustParsePrefix("192.0.2.0/24") {
					t.Errorf("ticket %+v", tk)
				}
			},
			stats: Stats{Failures: 4, Bans: 1, Tracked: 1},
		},
		{
			name: "cap evicts the oldest",
			cfg:  Config{MaxRetry: 2, MaxEntries: 2},
			inOp: true,
			steps: []step{
				{fail("192.0.2.1", 0), 0, false},
				{fail("192.0.2.2", time.Second), time.Second, false},
				{fail("192.0.2.3", 2*time.Second), 2 * time.Second, false},
				{fail("192.0.2.1", 3*time.Second), 3 * time.Second, false}, // evicted: starts over
				{fail("192.0.2.3", 4*time.Second), 4 * time.Second, true},
			},
			stats: Stats{Failures: 5, Bans: 1, Evicted: 2, Tracked: 1},
		},
		{
			name: "known offender counts more",
			cfg: Config{MaxRetry: 5, BadHistory: func(id string) (History, bool) {
				return History{Count: 2, Last: base.Add(-time.Hour)}, id == "192.0.2.5"
			}},
			inOp: true,
			steps: []step{
				{fail("192.0.2.5", 0), 0, false},                    // 1 + 2
				{fail("192.0.2.5", time.Second), time.Second, true}, // 4 + 2
				{fail("192.0.2.6", 0), time.Second, false},
			},
			stats: Stats{Failures: 3, Bans: 1, Tracked: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{}
			tc.cfg.Clock = clk.Now
			j := New(tc.cfg)
			j.SetInOperation(tc.inOp)
			var last Ticket
			for i, s := range tc.steps {
				clk.now = base.Add(s.now)
				tk, ok := j.AddFailure(context.Background(), s.f)
				if ok != s.wantOK {
					t.Fatalf("step %d: banned=%v, want %v", i, ok, s.wantOK)
				}
				if ok {
					last = tk
				}
			}
			if tc.check != nil {
				tc.check(t, last)
			}
			if got := j.Stats(); got != tc.stats {
				t.Errorf("stats %+v\nwant  %+v", got, tc.stats)
			}
		})
	}
}

func TestIgnoredFailure(t *testing.T) {
	ign, err := NewIgnoreList(IgnoreConfig{Entries: []string{"192.0.2.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	j := New(Config{MaxRetry: 1, Ignore: ign})
	f := Failure{Addr: netip.MustParseAddr("192.0.2.1"), Host: "192.0.2.1"}
	if _, ok := j.AddFailure(context.Background(), f); ok {
		t.Fatal("ignored address banned")
	}
	f.Addr = netip.MustParseAddr("192.0.3.1")
	if _, ok := j.AddFailure(context.Background(), f); !ok {
		t.Fatal("address outside ignoreip not banned")
	}
	if s := j.Stats(); s.Ignored != 1 || s.Bans != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestForgetAndPurge(t *testing.T) {
	clk := &fakeClock{now: base}
	j := New(Config{MaxRetry: 5, FindTime: time.Minute, Clock: clk.Now})
	for i := range 3 {
		j.AddFailure(context.Background(), fail(fmt.Sprintf("192.0.2.%d", i+1), 0))
	}
	j.AddFailure(context.Background(), fail("192.0.2.1", 0))
	if got := j.Failures("192.0.2.1"); got != 2 {
		t.Errorf("Failures = %d, want 2", got)
	}
	j.Forget("192.0.2.1")
	if got := j.Failures("192.0.2.1"); got != 0 {
		t.Errorf("Failures after Forget = %d", got)
	}
	clk.now = base.Add(time.Minute)
	j.Purge()
	if s := j.Stats(); s.Tracked != 0 || s.Expired != 2 {
		t.Errorf("stats after purge %+v", s)
	}
}

// TestFloodIsBounded feeds many distinct addresses and checks the cap.
func TestFloodIsBounded(t *testing.T) {
	clk := &fakeClock{now: base}
	j := New(Config{MaxRetry: 3, MaxEntries: 1000, Clock: clk.Now})
	for i := range 20000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		j.AddFailure(context.Background(), Failure{Addr: a, Time: base})
	}
	if s := j.Stats(); s.Tracked != 1000 || s.Evicted != 19000 {
		t.Errorf("stats %+v", s)
	}
}

// TestConcurrentUse drives one jail from several goroutines (run with
// -race); every failure is counted once and bans add up.
func TestConcurrentUse(t *testing.T) {
	j := New(Config{MaxRetry: 4})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	for g := range 4 {
		go func() {
			bans := 0
			for i := range 1000 {
				if _, ok := j.AddFailure(ctx, Failure{Addr: addrN(g*1000 + i%50)}); ok {
					bans++
				}
			}
			done <- bans
		}()
	}
	total := 0
	for range 4 {
		total += <-done
	}
	if s := j.Stats(); s.Failures != 4000 || int(s.Bans) != total || total != 4*50*5 {
		t.Errorf("stats %+v, bans seen %d", s, total)
	}
}
