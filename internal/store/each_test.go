package store

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"
)

// TestEachActiveBan: the streamed bans are those of ActiveBans; matches
// come only for the jails asked for; an error from fn stops the reading.
func TestEachActiveBan(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxMatches: 5})
	in := []Ban{
		{Jail: "sshd", Prefix: pfx("192.0.2.1"), Time: t0.Add(-time.Hour), BanTime: 10 * time.Minute, Count: 1},
		{Jail: "sshd", Prefix: pfx("192.0.2.2"), Time: t0, BanTime: time.Hour, Count: 2, Failures: 3, Matches: []string{"a", "b"}},
		{Jail: "web", Prefix: pfx("192.0.2.3"), Time: t0, BanTime: -1, Count: 1, Failures: 1, Matches: []string{"GET /"}},
	}
	if err := s.AddBans(ctx, in); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		withMatches func(string) bool
		want        map[string]int // prefix -> matches
	}{
		{"all", nil, map[string]int{"192.0.2.2/32": 2, "192.0.2.3/32": 1}},
		{"web only", func(j string) bool { return j == "web" }, map[string]int{"192.0.2.2/32": 0, "192.0.2.3/32": 1}},
		{"none", func(string) bool { return false }, map[string]int{"192.0.2.2/32": 0, "192.0.2.3/32": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]int{}
			err := s.EachActiveBan(ctx, t0, tt.withMatches, func(b Ban) error {
				got[b.Prefix.String()] = len(b.Matches)
				if b.Prefix == pfx("192.0.2.2") && (b.Count != 2 || b.Failures != 3 || !b.Time.Equal(t0) || b.BanTime != time.Hour) {
					t.Errorf("ban read back as %+v", b)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for p, n := range tt.want {
				if m, ok := got[p]; !ok || m != n {
					t.Errorf("%s: %d matches (present %v), want %d", p, m, ok, n)
				}
			}
		})
	}
	stop := errors.New("stop")
	calls := 0
	err := s.EachActiveBan(ctx, t0, nil, func(Ban) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("EachActiveBan with a failing fn: %v after %d calls", err, calls)
	}
}

// TestCountBans: stored bans per jail, ended ones included until a read
// of the active bans deletes them.
func TestCountBans(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	if got, err := s.CountBans(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	in := []Ban{
		{Jail: "sshd", Prefix: pfx("192.0.2.1"), Time: t0.Add(-time.Hour), BanTime: 10 * time.Minute, Count: 1},
		{Jail: "sshd", Prefix: pfx("192.0.2.2"), Time: t0, BanTime: time.Hour, Count: 1},
		{Jail: "web", Prefix: pfx("192.0.2.3"), Time: t0, BanTime: -1, Count: 1},
	}
	if err := s.AddBans(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name string
		want map[string]int
	}{
		{"stored", map[string]int{"sshd": 2, "web": 1}},
		{"after a read at t0", map[string]int{"sshd": 1, "web": 1}},
	} {
		got, err := s.CountBans(ctx)
		if err != nil || !maps.Equal(got, step.want) {
			t.Errorf("%s: %v, %v; want %v", step.name, got, err, step.want)
		}
		if _, err := s.ActiveBans(ctx, t0); err != nil {
			t.Fatal(err)
		}
	}
}
