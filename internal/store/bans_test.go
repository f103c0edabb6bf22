package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestAddAndActiveBans(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxMatches: 2})
	in := []Ban{
		{Jail: "sshd", Prefix: pfx("192.0.2.1"), Time: t0.Add(-time.Hour), BanTime: 10 * time.Minute,
			Count: 1, Failures: 5}, // ended 50 minutes ago
		{Jail: "sshd", Prefix: pfx("192.0.2.2"), Time: t0.Add(-time.Minute), BanTime: 10 * time.Minute,
			Count: 2, Failures: 3, Matches: []string{"a", "b", "c"}},
		{Jail: "sshd", Prefix: netip.MustParsePrefix("2001:db8::1/64"), Time: t0.Add(-48 * time.Hour),
			BanTime: -1, Count: 7, Failures: 1},
		{Jail: "nginx", Prefix: netip.MustParsePrefix("::ffff:198.51.100.7/128"), Time: t0,
			BanTime: time.Hour, Count: 1, Failures: 2, Matches: []string{"GET /x"}},
		// ends exactly now: already over
		{Jail: "nginx", Prefix: pfx("198.51.100.8"), Time: t0.Add(-time.Hour), BanTime: time.Hour, Count: 1},
	}
	if err := s.AddBans(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.ActiveBans(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Ban{
		{Jail: "sshd", Prefix: pfx("2001:db8::/64"), Time: t0.Add(-48 * time.Hour), BanTime: -1, Count: 7, Failures: 1},
		{Jail: "sshd", Prefix: pfx("192.0.2.2"), Time: t0.Add(-time.Minute), BanTime: 10 * time.Minute,
			Count: 2, Failures: 3, Matches: []string{"b", "c"}},
		{Jail: "nginx", Prefix: pfx("198.51.100.7"), Time: t0, BanTime: time.Hour, Count: 1, Failures: 2,
			Matches: []string{"GET /x"}},
	}
	assertBans(t, got, want)

	// The ended bans were deleted, their history kept.
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM bans").Scan(&n); err != nil || n != 3 {
		t.Fatalf("rows left in bans: %d (%v), want 3", n, err)
	}
	h, err := s.BanHistory(ctx, pfx("192.0.2.1"), "sshd")
	if err != nil || h.Count != 1 || !h.Last.Equal(t0.Add(-time.Hour)) || h.BanTime != 10*time.Minute {
		t.Fatalf("history of an expired ban: %+v %v", h, err)
	}
}

func assertBans(t *testing.T, got, want []Ban) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d bans, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Jail != w.Jail || g.Prefix != w.Prefix || !g.Time.Equal(w.Time) || g.BanTime != w.BanTime ||
			g.Count != w.Count || g.Failures != w.Failures || !slices.Equal(g.Matches, w.Matches) {
			t.Errorf("ban %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestAddBansReplacesAndValidates(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	p := pfx("203.0.113.9")
	first := Ban{Jail: "sshd", Prefix: p, Time: t0, BanTime: time.Minute, Count: 1, Failures: 3}
	second := Ban{Jail: "sshd", Prefix: p, Time: t0.Add(2 * time.Minute), BanTime: 4 * time.Minute, Count: 2, Failures: 3}
	for _, b := range []Ban{first, second} {
		if err := s.AddBans(ctx, []Ban{b}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ActiveBans(ctx, t0.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	assertBans(t, got, []Ban{second})

	// Within one batch too, the later of two bans of one key wins, however
	// the batch is reordered for writing.
	third := second
	third.Count, third.Time = 3, t0.Add(5*time.Minute)
	batch := []Ban{third, {Jail: "a", Prefix: pfx("10.0.0.1"), Time: t0, BanTime: time.Hour}, second}
	if err := s.AddBans(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.BanHistory(ctx, p, "sshd"); h.Count != 2 {
		t.Fatalf("history after a batch ending with the second ban: %+v", h)
	}
	if err := s.AddBans(ctx, []Ban{second, third}); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.BanHistory(ctx, p, "sshd"); h.Count != 3 {
		t.Fatalf("history after a batch ending with the third ban: %+v", h)
	}

	bad := []struct {
		name string
		ban  Ban
	}{
		{"no jail", Ban{Prefix: p, Time: t0}},
		{"no prefix", Ban{Jail: "sshd", Time: t0}},
		{"no time", Ban{Jail: "sshd", Prefix: p}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			good := Ban{Jail: "x", Prefix: pfx("10.0.0.1"), Time: t0, BanTime: time.Hour}
			err := s.AddBans(ctx, []Ban{good, tc.ban})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("AddBans = %v, want ErrInvalid", err)
			}
			// All or nothing: the good ban must not be there either.
			if h, _ := s.BanHistory(ctx, good.Prefix, "x"); h.Count != 0 {
				t.Fatalf("partial write: %+v", h)
			}
		})
	}
}

func TestRemoveAndForget(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	a, b, c := pfx("192.0.2.1"), pfx("192.0.2.2"), pfx("10.0.0.0/8")
	var bans []Ban
	for _, jail := range []string{"sshd", "nginx"} {
		for _, p := range []netip.Prefix{a, b, c} {
			bans = append(bans, Ban{Jail: jail, Prefix: p, Time: t0, BanTime: time.Hour, Count: 1})
		}
	}
	if err := s.AddBans(ctx, bans); err != nil {
		t.Fatal(err)
	}
	n, err := s.RemoveBans(ctx, "sshd", []netip.Prefix{a, netip.MustParsePrefix("10.1.2.3/8"), pfx("1.1.1.1")})
	if err != nil || n != 2 {
		t.Fatalf("RemoveBans = %d, %v; want 2 (host bits of 10.1.2.3/8 ignored)", n, err)
	}
	if h, _ := s.BanHistory(ctx, a, "sshd"); h.Count != 1 {
		t.Fatalf("RemoveBans must keep history, got %+v", h)
	}
	n, err = s.ClearJail(ctx, "nginx")
	if err != nil || n != 3 {
		t.Fatalf("ClearJail = %d, %v; want 3", n, err)
	}
	got, err := s.ActiveBans(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	assertBans(t, got, []Ban{{Jail: "sshd", Prefix: b, Time: t0, BanTime: time.Hour, Count: 1}})

	n, err = s.ForgetHistory(ctx, "sshd", []netip.Prefix{a})
	if err != nil || n != 1 {
		t.Fatalf("ForgetHistory(sshd) = %d, %v", n, err)
	}
	if h, _ := s.BanHistory(ctx, a, ""); h.Count != 1 {
		t.Fatalf("nginx history of a should remain: %+v", h)
	}
	n, err = s.ForgetHistory(ctx, "", []netip.Prefix{a, b})
	if err != nil || n != 3 {
		t.Fatalf("ForgetHistory(all) = %d, %v; want 3", n, err)
	}
	if _, err := s.RemoveBans(ctx, "sshd", []netip.Prefix{{}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid prefix: %v", err)
	}
}

func TestBanHistory(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	p := pfx("198.51.100.1")
	if err := s.AddBans(ctx, []Ban{
		{Jail: "sshd", Prefix: p, Time: t0, BanTime: time.Hour, Count: 3},
		{Jail: "nginx", Prefix: p, Time: t0.Add(time.Hour), BanTime: 2 * time.Hour, Count: 2},
		{Jail: "postfix", Prefix: pfx("198.51.100.2"), Time: t0, BanTime: -1, Count: 1},
		{Jail: "sshd", Prefix: pfx("198.51.100.2"), Time: t0, BanTime: time.Hour, Count: 4},
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix netip.Prefix
		jail   string
		want   History
	}{
		{p, "sshd", History{Count: 3, Last: t0, BanTime: time.Hour}},
		{p, "nginx", History{Count: 2, Last: t0.Add(time.Hour), BanTime: 2 * time.Hour}},
		{p, "", History{Count: 5, Last: t0.Add(time.Hour), BanTime: 3 * time.Hour}},
		{p, "postfix", History{}},
		{pfx("198.51.100.2"), "", History{Count: 5, Last: t0, BanTime: -1}},
		{pfx("203.0.113.1"), "", History{}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/%s", tc.prefix, tc.jail), func(t *testing.T) {
			got, err := s.BanHistory(ctx, tc.prefix, tc.jail)
			if err != nil {
				t.Fatal(err)
			}
			if got.Count != tc.want.Count || got.BanTime != tc.want.BanTime || !got.Last.Equal(tc.want.Last) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBanEvidence(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxMatches: 3})
	p := pfx("192.0.2.50")
	if err := s.AddBans(ctx, []Ban{
		{Jail: "sshd", Prefix: p, Time: t0, BanTime: time.Hour, Count: 1, Failures: 2, Matches: []string{"s1", "s2"}},
		{Jail: "dovecot", Prefix: p, Time: t0.Add(time.Second), BanTime: time.Hour, Count: 1, Failures: 2,
			Matches: []string{"d1", "d2"}},
	}); err != nil {
		t.Fatal(err)
	}
	ev, err := s.BanEvidence(ctx, p, "")
	if err != nil || ev.Failures != 4 || !slices.Equal(ev.Matches, []string{"s2", "d1", "d2"}) {
		t.Fatalf("all jails: %+v %v", ev, err)
	}
	ev, err = s.BanEvidence(ctx, p, "sshd")
	if err != nil || ev.Failures != 2 || !slices.Equal(ev.Matches, []string{"s1", "s2"}) {
		t.Fatalf("sshd: %+v %v", ev, err)
	}
}

func TestMaxMatchesNegativeKeepsNone(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxMatches: -1})
	b := Ban{Jail: "sshd", Prefix: pfx("192.0.2.1"), Time: t0, BanTime: time.Hour, Matches: []string{"x"}}
	if err := s.AddBans(ctx, []Ban{b}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ActiveBans(ctx, t0)
	if err != nil || len(got) != 1 || got[0].Matches != nil {
		t.Fatalf("got %+v %v", got, err)
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	day := 24 * time.Hour
	before := t0.Add(-day) // dbpurgeage of one day
	bans := []Ban{
		// old, short ban: purged
		{Jail: "sshd", Prefix: pfx("192.0.2.1"), Time: t0.Add(-3 * day), BanTime: time.Hour, Count: 1},
		// old, but its ban time tripled reaches past the cut: kept
		{Jail: "sshd", Prefix: pfx("192.0.2.2"), Time: t0.Add(-3 * day), BanTime: day, Count: 1},
		// old but permanent: kept
		{Jail: "sshd", Prefix: pfx("192.0.2.3"), Time: t0.Add(-30 * day), BanTime: -1, Count: 1},
		// recent: kept
		{Jail: "sshd", Prefix: pfx("192.0.2.4"), Time: t0.Add(-time.Hour), BanTime: time.Minute, Count: 1},
		// in a jail that will be disabled; purged, then the jail goes too
		{Jail: "gone", Prefix: pfx("192.0.2.5"), Time: t0.Add(-3 * day), BanTime: time.Hour, Count: 1},
	}
	if err := s.AddBans(ctx, bans); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLogPosition(ctx, "gone", Position{Path: "/var/log/gone.log", Offset: 10}); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncJails(ctx, []string{"sshd"}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Purge(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	if want := (PurgeStats{History: 2, Bans: 3, Jails: 1}); st != want {
		t.Fatalf("Purge = %+v, want %+v", st, want)
	}
	for p, want := range map[string]int{"192.0.2.1": 0, "192.0.2.2": 1, "192.0.2.3": 1, "192.0.2.4": 1, "192.0.2.5": 0} {
		if h, err := s.BanHistory(ctx, pfx(p), ""); err != nil || h.Count != want {
			t.Errorf("history of %s after purge: %+v %v, want count %d", p, h, err, want)
		}
	}
	if _, ok, _ := s.LogPosition(ctx, "gone", "/var/log/gone.log"); ok {
		t.Error("log position of a purged jail survived")
	}
	jails, _ := s.Jails(ctx)
	if !slices.Equal(jails, []Jail{{"sshd", true}}) {
		t.Errorf("jails after purge: %v", jails)
	}
}

// TestConcurrentUse runs writers and readers at once, as jails and the ban
// manager will: none may fail with a lock error inside one process.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{BusyTimeout: 10 * time.Second})
	const writers, batches, per = 4, 10, 50
	errs := make(chan error, writers*2)
	for w := range writers {
		go func() {
			var err error
			for i := 0; i < batches && err == nil; i++ {
				bans := make([]Ban, per)
				for j := range bans {
					a := netip.AddrFrom4([4]byte{10, byte(w), byte(i), byte(j)})
					bans[j] = Ban{Jail: fmt.Sprintf("jail%d", w), Prefix: netip.PrefixFrom(a, 32),
						Time: t0, BanTime: time.Hour, Count: 1}
				}
				err = s.AddBans(ctx, bans)
			}
			errs <- err
		}()
		go func() {
			var err error
			for i := 0; i < batches && err == nil; i++ {
				_, err = s.ActiveBans(ctx, t0)
				if err == nil {
					_, err = s.BanHistory(ctx, pfx("10.0.0.1"), "")
				}
			}
			errs <- err
		}()
	}
	for range writers * 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ActiveBans(ctx, t0)
	if err != nil || len(got) != writers*batches*per {
		t.Fatalf("%d active bans (%v), want %d", len(got), err, writers*batches*per)
	}
}

func TestCancelledAddBansWritesNothing(t *testing.T) {
	s := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.AddBans(ctx, manyBans(10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("AddBans with a cancelled context = %v", err)
	}
	got, err := s.ActiveBans(context.Background(), t0)
	if err != nil || len(got) != 0 {
		t.Fatalf("after a cancelled AddBans: %d bans, %v", len(got), err)
	}
}
