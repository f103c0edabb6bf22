package ban

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/jail"
	"warden/internal/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	m     *Manager
	fw    *memBackend
	st    *store.Store
	clk   *fakeClock
	out   string // the file action's output, when it has one
	jails []JailConfig
}

// newEnv builds and runs a manager with one jail "sshd" (bantime 10m) and
// a real shell action writing to env.out, unless cfg says otherwise.
func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	e := &env{fw: newMem(), st: openStore(t), clk: newFakeClock(t0)}
	e.out = filepath.Join(t.TempDir(), "actions.log")
	cfg := Config{
		Jails: []JailConfig{{
			Name:    "sshd",
			BanTime: jail.BanTimeConfig{BanTime: 10 * time.Minute},
			Actions: []Action{fileAction(t, "sshd", e.out, "")},
		}},
		Backends: []firewall.Backend{e.fw},
		Store:    e.st,
		Clock:    e.clk,
	}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.m = m
	running(t, m)
	return e
}

// lines returns the action output once every queued action has run.
func (e *env) lines(t *testing.T) []string {
	t.Helper()
	if err := e.m.WaitActions(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(e.out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (e *env) sync(t *testing.T) {
	t.Helper()
	if err := e.m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func ticket(addr string, at time.Time) jail.Ticket {
	p := pfx(addr)
	return jail.Ticket{ID: addr, Addr: p.Addr(), Prefix: p, Time: at, Failures: 5, Matches: []string{"line " + addr}}
}

func storedBans(t *testing.T, st *store.Store, now time.Time) map[string]store.Ban {
	t.Helper()
	bans, err := st.ActiveBans(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Ban{}
	for _, b := range bans {
		out[b.Jail+" "+b.Prefix.String()] = b
	}
	return out
}

func TestBanReachesStoreFirewallAndAction(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	at := t0.Add(-30 * time.Second)
	res, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.1", at))
	if err != nil || !res.Banned || res.Err != nil {
		t.Fatalf("Ban = %+v, %v", res, err)
	}
	wantEnd := at.Add(10 * time.Minute)
	if !res.End.Equal(wantEnd) || res.Count != 1 {
		t.Errorf("result end %v count %d, want %v and 1", res.End, res.Count, wantEnd)
	}
	if exp, ok := e.fw.has("sshd", pfx("192.0.2.1")); !ok || !exp.Equal(wantEnd) {
		t.Errorf("firewall has %v %v, want expiry %v", exp, ok, wantEnd)
	}
	e.sync(t)
	b, ok := storedBans(t, e.st, t0)["sshd 192.0.2.1/32"]
	if !ok || !b.Time.Equal(at) || b.BanTime != 10*time.Minute || b.Count != 1 || b.Failures != 5 {
		t.Errorf("stored %+v %v", b, ok)
	}
	if got := e.lines(t); len(got) != 1 || got[0] != "ban 192.0.2.1 600 1 0" {
		t.Errorf("action output %q", got)
	}
	if st, _ := e.m.Stats("sshd"); st.Banned != 1 || st.TotalBanned != 1 {
		t.Errorf("stats %+v", st)
	}
	if _, err := e.m.Ban(ctx, "nope", ticket("192.0.2.9", t0)); !errors.Is(err, ErrUnknownJail) {
		t.Errorf("unknown jail: %v", err)
	}
	if _, err := e.m.Ban(ctx, "sshd", jail.Ticket{ID: "user"}); !errors.Is(err, ErrBadTarget) {
		t.Errorf("no address: %v", err)
	}
	if _, err := e.m.Ban(ctx, "sshd", ticket("0.0.0.0", t0)); !errors.Is(err, ErrBadTarget) {
		t.Errorf("unspecified address: %v", err)
	}
}

func TestAlreadyBanned(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.1", t0)); err != nil {
		t.Fatal(err)
	}
	// Same time again: already banned, nothing changes anywhere.
	res, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.1", t0))
	if err != nil || !res.Already || res.Banned || res.Prolonged {
		t.Fatalf("second ban = %+v, %v", res, err)
	}
	if calls, _ := e.fw.calls(); len(calls) != 1 {
		t.Errorf("firewall Ban calls %v, want 1", calls)
	}
	// A later ticket ends later: the ban is prolonged to its end.
	e.clk.Advance(2 * time.Minute)
	later := t0.Add(2 * time.Minute)
	res, err = e.m.Ban(ctx, "sshd", ticket("192.0.2.1", later))
	if err != nil || !res.Already || !res.Prolonged {
		t.Fatalf("third ban = %+v, %v", res, err)
	}
	wantEnd := later.Add(10 * time.Minute)
	if !res.End.Equal(wantEnd) || res.BanTime != 12*time.Minute {
		t.Errorf("prolonged to %v (%v), want %v (12m)", res.End, res.BanTime, wantEnd)
	}
	if exp, _ := e.fw.has("sshd", pfx("192.0.2.1")); !exp.Equal(wantEnd) {
		t.Errorf("firewall expiry %v, want %v", exp, wantEnd)
	}
	e.sync(t)
	if b := storedBans(t, e.st, t0)["sshd 192.0.2.1/32"]; b.BanTime != 12*time.Minute || b.Count != 1 {
		t.Errorf("stored %+v", b)
	}
	want := []string{"ban 192.0.2.1 600 1 0", "prolong 192.0.2.1 720"}
	if got := e.lines(t); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("actions %q, want %q", got, want)
	}
	if st, _ := e.m.Stats("sshd"); st.Banned != 1 || st.TotalBanned != 1 {
		t.Errorf("stats %+v", st)
	}
	// The prolonged ban expires at its new end, not the old one.
	e.clk.Advance(8 * time.Minute)
	e.sync(t)
	if !e.m.IsBanned("sshd", pfx("192.0.2.1")) {
		t.Fatal("lifted at the old end")
	}
	e.clk.Advance(2 * time.Minute)
	e.sync(t)
	if e.m.IsBanned("sshd", pfx("192.0.2.1")) {
		t.Fatal("still banned after the new end")
	}
}

func TestOldTicketIgnored(t *testing.T) {
	e := newEnv(t, nil)
	res, err := e.m.Ban(context.Background(), "sshd", ticket("192.0.2.1", t0.Add(-11*time.Minute)))
	if err != nil || !res.Expired || res.Banned {
		t.Fatalf("Ban = %+v, %v", res, err)
	}
	if e.fw.size() != 0 || len(e.lines(t)) != 0 {
		t.Error("an ended ban reached the firewall or an action")
	}
}

func TestExpiryAtExactTime(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.clk.Advance(2 * time.Second)
	for i, a := range []string{"192.0.2.1", "192.0.2.2", "2001:db8::7"} {
		if _, err := e.m.Ban(ctx, "sshd", ticket(a, t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.3", t0)); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(10*time.Minute - 2*time.Second - time.Nanosecond)
	e.sync(t)
	if n := e.fw.size(); n != 4 {
		t.Fatalf("%d bans in the firewall 1ns before the end, want 4", n)
	}
	e.clk.Advance(time.Nanosecond)
	e.sync(t)
	for _, a := range []string{"192.0.2.1", "192.0.2.3"} {
		if _, ok := e.fw.has("sshd", pfx(a)); ok {
			t.Errorf("%s still in the firewall at its end", a)
		}
	}
	if _, ok := e.fw.has("sshd", pfx("192.0.2.2")); !ok {
		t.Error("192.0.2.2 lifted a second early")
	}
	if _, unban := e.fw.calls(); len(unban) != 1 || unban[0] != 2 {
		t.Errorf("Unban calls %v, want one of 2", unban)
	}
	stored := storedBans(t, e.st, t0)
	if _, ok := stored["sshd 192.0.2.1/32"]; ok || len(stored) != 2 {
		t.Errorf("store still holds %v", stored)
	}
	e.clk.Advance(time.Second)
	e.sync(t)
	if e.fw.size() != 1 {
		t.Errorf("firewall holds %d, want only the IPv6 ban", e.fw.size())
	}
	got := e.lines(t)
	unbans := 0
	for _, l := range got {
		if strings.HasPrefix(l, "unban ") {
			unbans++
		}
	}
	if unbans != 3 {
		t.Errorf("actions %q: want 3 unbans", got)
	}
	if c := e.m.Counters(); c.Expired != 3 {
		t.Errorf("expired counter %d", c.Expired)
	}
}

func TestPermanentNeverExpires(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Jails[0].BanTime.BanTime = jail.Forever })
	res, err := e.m.Ban(context.Background(), "sshd", ticket("192.0.2.1", t0))
	if err != nil || !res.Banned || !res.End.IsZero() || res.BanTime >= 0 {
		t.Fatalf("Ban = %+v, %v", res, err)
	}
	e.clk.Advance(100 * 365 * 24 * time.Hour)
	e.sync(t)
	if exp, ok := e.fw.has("sshd", pfx("192.0.2.1")); !ok || !exp.IsZero() {
		t.Errorf("permanent ban: firewall %v %v", exp, ok)
	}
	if got := e.lines(t); len(got) != 1 || got[0] != "ban 192.0.2.1 -1 1 0" {
		t.Errorf("actions %q", got)
	}
}

func TestIncrement(t *testing.T) {
	mult, _ := jail.ParseMultipliers("1 5 30")
	tests := []struct {
		name string
		cfg  jail.BanTimeConfig
		want []time.Duration // ban times of the 1st, 2nd, ... ban
	}{
		{"formula", jail.BanTimeConfig{BanTime: 10 * time.Minute, Increment: true},
			[]time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 80 * time.Minute}},
		{"factor and maxtime", jail.BanTimeConfig{BanTime: 10 * time.Minute, Increment: true, Factor: 3, MaxTime: time.Hour},
			[]time.Duration{10 * time.Minute, time.Hour, time.Hour}},
		{"multipliers", jail.BanTimeConfig{BanTime: time.Minute, Increment: true, Multipliers: mult},
			[]time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 30 * time.Minute}},
		{"off", jail.BanTimeConfig{BanTime: 10 * time.Minute},
			[]time.Duration{10 * time.Minute, 10 * time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Jails[0].BanTime = tc.cfg; c.Jails[0].Actions = nil })
			for i, want := range tc.want {
				res, err := e.m.Ban(context.Background(), "sshd", ticket("192.0.2.1", e.clk.Now()))
				if err != nil || !res.Banned {
					t.Fatalf("ban %d = %+v, %v", i+1, res, err)
				}
				// Without bantime.increment fail2ban does not look the
				// history up: every ban counts as the first.
				wantCount := i + 1
				if !tc.cfg.Increment {
					wantCount = 1
				}
				if res.BanTime != want || res.Count != wantCount {
					t.Errorf("ban %d: bantime %v count %d, want %v and %d", i+1, res.BanTime, res.Count, want, wantCount)
				}
				e.clk.Advance(want)
				e.sync(t)
				if e.m.IsBanned("sshd", pfx("192.0.2.1")) {
					t.Fatalf("ban %d not lifted after %v", i+1, want)
				}
			}
		})
	}
}

func TestIncrementOverallJails(t *testing.T) {
	inc := jail.BanTimeConfig{BanTime: 10 * time.Minute, Increment: true}
	all := inc
	all.OverallJails = true
	e := newEnv(t, func(c *Config) {
		c.Jails = []JailConfig{{Name: "a", BanTime: inc}, {Name: "b", BanTime: inc}, {Name: "c", BanTime: all}}
	})
	ctx := context.Background()
	for _, j := range []string{"a", "b"} {
		if _, err := e.m.Ban(ctx, j, ticket("192.0.2.1", t0)); err != nil {
			t.Fatal(err)
		}
	}
	e.sync(t)
	// b counts only its own history (none); c counts a's and b's bans.
	res, err := e.m.Ban(ctx, "c", ticket("192.0.2.1", t0))
	if err != nil || res.Count != 3 || res.BanTime != 40*time.Minute {
		t.Errorf("overall jails ban = %+v, %v; want count 3, 40m", res, err)
	}
}

func TestRestore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	st := openStoreAt(t, path)
	const n = 10_000
	var rows []store.Ban
	for i := range n {
		rows = append(rows, store.Ban{Jail: "sshd", Prefix: pfx(addrN(i).String()), Time: t0.Add(-time.Minute), BanTime: time.Hour, Count: 1})
	}
	rows = append(rows,
		store.Ban{Jail: "sshd", Prefix: pfx("192.0.2.99"), Time: t0.Add(-2 * time.Hour), BanTime: time.Hour, Count: 1},
		store.Ban{Jail: "sshd", Prefix: pfx("192.0.2.100"), Time: t0.Add(-2 * time.Hour), BanTime: -1, Count: 4},
		store.Ban{Jail: "gone", Prefix: pfx("192.0.2.101"), Time: t0, BanTime: time.Hour, Count: 1})
	if err := st.AddBans(ctx, rows); err != nil {
		t.Fatal(err)
	}
	fw := newMem()
	m, err := New(Config{
		Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}}},
		Backends: []firewall.Backend{fw}, Store: st, Clock: newFakeClock(t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	running(t, m)
	calls, _ := fw.calls()
	want := []int{restoreChunk, n + 1 - restoreChunk} // n+1 bans, restoreChunk a call
	if !slices.Equal(calls, want) {
		t.Fatalf("restore Ban calls %v, want %v", calls, want)
	}
	if _, ok := fw.has("sshd", pfx("192.0.2.99")); ok {
		t.Error("an ended ban was restored")
	}
	if exp, ok := fw.has("sshd", pfx("192.0.2.100")); !ok || !exp.IsZero() {
		t.Error("the permanent ban was not restored as permanent")
	}
	if exp, _ := fw.has("sshd", pfx(addrN(42).String())); !exp.Equal(t0.Add(59 * time.Minute)) {
		t.Errorf("restored expiry %v", exp)
	}
	if s, _ := m.Stats("sshd"); s.Banned != n+1 {
		t.Errorf("stats %+v", s)
	}
}

func TestManualUnban(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Jails[0].BanTime.Increment = true
		c.Jails = append(c.Jails, JailConfig{Name: "web", BanTime: jail.BanTimeConfig{BanTime: time.Hour}})
	})
	ctx := context.Background()
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		if _, err := e.m.BanIP(ctx, "sshd", pfx(a)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.m.BanIP(ctx, "web", pfx("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	n, err := e.m.Unban(ctx, "sshd", []netip.Prefix{pfx("192.0.2.1")})
	if err != nil || n != 1 {
		t.Fatalf("Unban = %d, %v", n, err)
	}
	if _, ok := e.fw.has("sshd", pfx("192.0.2.1")); ok {
		t.Error("still in the firewall")
	}
	if _, ok := e.fw.has("web", pfx("192.0.2.1")); !ok {
		t.Error("unban in sshd lifted the web ban")
	}
	if _, ok := storedBans(t, e.st, t0)["sshd 192.0.2.1/32"]; ok {
		t.Error("still in the store")
	}
	if h, _ := e.st.BanHistory(ctx, pfx("192.0.2.1"), "sshd"); h.Count != 0 {
		t.Errorf("history kept after a manual unban: %+v", h)
	}
	if _, err := e.m.Unban(ctx, "sshd", []netip.Prefix{pfx("192.0.2.1")}); !errors.Is(err, ErrNotBanned) {
		t.Errorf("second unban: %v", err)
	}
	if _, err := e.m.Unban(ctx, "nope", []netip.Prefix{pfx("192.0.2.1")}); !errors.Is(err, ErrUnknownJail) {
		t.Errorf("unknown jail: %v", err)
	}
	// A new ban after a manual unban counts as a first one.
	if res, _ := e.m.BanIP(ctx, "sshd", pfx("192.0.2.1")); res.Count != 1 || res.BanTime != 10*time.Minute {
		t.Errorf("ban after unban %+v", res)
	}
	if n, err := e.m.Unban(ctx, "", []netip.Prefix{pfx("192.0.2.1")}); err != nil || n != 2 {
		t.Errorf("unban in all jails = %d, %v", n, err)
	}
	if n, err := e.m.UnbanAll(ctx, ""); err != nil || n != 2 {
		t.Errorf("UnbanAll = %d, %v", n, err)
	}
	if e.fw.size() != 0 || len(storedBans(t, e.st, t0)) != 0 {
		t.Errorf("left: firewall %d, store %v", e.fw.size(), storedBans(t, e.st, t0))
	}
	if h, _ := e.st.BanHistory(ctx, pfx("192.0.2.2"), "sshd"); h.Count != 1 {
		t.Errorf("unban --all forgot the history: %+v", h)
	}
	got := e.lines(t)
	if len(got) != 8 || got[len(got)-1][:6] != "unban " {
		t.Errorf("actions %q", got)
	}
	if s, _ := e.m.Stats("sshd"); s.Banned != 0 || s.TotalBanned != 4 {
		t.Errorf("stats %+v", s)
	}
}

func TestFloodCoalesced(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Jails[0].Actions = nil })
	ctx := context.Background()
	const n = 100_000
	start := time.Now()
	for i := range n {
		if err := e.m.Submit(ctx, "sshd", ticket(addrN(i).String(), t0)); err != nil {
			t.Fatal(err)
		}
	}
	e.sync(t)
	took := time.Since(start)
	calls, _ := e.fw.calls()
	sum := 0
	for _, c := range calls {
		sum += c
	}
	if sum != n || e.fw.size() != n {
		t.Fatalf("firewall got %d bans in %d calls, holds %d; want %d", sum, len(calls), e.fw.size(), n)
	}
	if len(calls) > 40 {
		t.Errorf("%d Backend.Ban calls for %d tickets: not coalesced", len(calls), n)
	}
	if len(storedBans(t, e.st, t0)) != n {
		t.Error("not every ban stored")
	}
	t.Logf("%d tickets → %d Backend.Ban calls in %v", n, len(calls), took)
}

func TestSameBatchDuplicates(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.clk.Advance(time.Minute)
	// Hold the loop inside a firewall call so the next tickets queue up
	// and are taken as one batch.
	e.fw.block, e.fw.entered = make(chan struct{}), make(chan struct{}, 1)
	if err := e.m.Submit(ctx, "sshd", ticket("192.0.2.200", t0)); err != nil {
		t.Fatal(err)
	}
	<-e.fw.entered
	// Queued together: the second ticket of an address prolongs the first
	// inside the batch; the firewall, store and action see one ban.
	for _, at := range []time.Time{t0, t0.Add(time.Minute), t0} {
		if err := e.m.Submit(ctx, "sshd", ticket("192.0.2.1", at)); err != nil {
			t.Fatal(err)
		}
	}
	close(e.fw.block)
	e.sync(t)
	if calls, _ := e.fw.calls(); len(calls) != 2 || calls[1] != 1 {
		t.Errorf("Ban calls %v, want [1 1]", calls)
	}
	if exp, _ := e.fw.has("sshd", pfx("192.0.2.1")); !exp.Equal(t0.Add(11 * time.Minute)) {
		t.Errorf("firewall expiry %v", exp)
	}
	if got := e.lines(t); len(got) != 2 || got[1] != "ban 192.0.2.1 660 1 0" {
		t.Errorf("actions %q", got)
	}
	if s, _ := e.m.Stats("sshd"); s.TotalBanned != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestListsAndRuntimeBanTime(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Jails[0].Actions = nil
		c.Jails = append(c.Jails, JailConfig{Name: "web", BanTime: jail.BanTimeConfig{BanTime: time.Hour}})
	})
	ctx := context.Background()
	e.clk.Advance(time.Minute)
	for i, a := range []string{"192.0.2.9", "2001:db8::1", "192.0.2.3"} {
		if _, err := e.m.Ban(ctx, "sshd", ticket(a, t0.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.m.Ban(ctx, "web", ticket("192.0.2.3", t0)); err != nil {
		t.Fatal(err)
	}
	got, err := e.m.Banned("sshd")
	if err != nil || fmt.Sprint(got) != "[192.0.2.9/32 2001:db8::1/128 192.0.2.3/32]" {
		t.Errorf("Banned = %v, %v", got, err)
	}
	if _, err := e.m.Banned("nope"); !errors.Is(err, ErrUnknownJail) {
		t.Errorf("unknown jail: %v", err)
	}
	if got := e.m.BannedIn(pfx("192.0.2.3")); fmt.Sprint(got) != "[sshd web]" {
		t.Errorf("BannedIn = %v", got)
	}
	if got := e.m.BannedIn(pfx("::ffff:192.0.2.9")); fmt.Sprint(got) != "[sshd]" {
		t.Errorf("BannedIn of a mapped address = %v", got)
	}
	if err := e.m.SetBanTime("sshd", jail.BanTimeConfig{BanTime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if res, _ := e.m.Ban(ctx, "sshd", ticket("192.0.2.50", t0)); res.BanTime != time.Hour {
		t.Errorf("after SetBanTime: %+v", res)
	}
	if bt, _ := e.m.BanTime("sshd"); bt.BanTime != time.Hour {
		t.Errorf("BanTime = %+v", bt)
	}
	if err := e.m.SetBanTime("nope", jail.BanTimeConfig{}); !errors.Is(err, ErrUnknownJail) {
		t.Errorf("SetBanTime unknown jail: %v", err)
	}
}
