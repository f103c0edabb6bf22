package ban

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"warden/internal/action"
	"warden/internal/config"
	"warden/internal/firewall"
	"warden/internal/store"
)

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk     *fakeClock
	c       chan time.Time
	at      time.Time
	stopped bool
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, c: make(chan time.Time, 1), at: c.now.Add(d)}
	if d <= 0 {
		t.c <- c.now
		t.stopped = true
	} else {
		c.timers = append(c.timers, t)
	}
	return t
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.c <- c.now
			t.stopped = true
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// memBackend is an in-memory firewall.Backend that records its calls.
type memBackend struct {
	mu      sync.Mutex
	set     map[jailPrefix]time.Time
	banCall []int // size of each Ban call
	unCall  []int
	heals   [][]firewall.Ban
	block   chan struct{} // when set, Ban signals entered and waits for it
	entered chan struct{}
	// when set, Heal signals healEntered and waits for healBlock
	healBlock, healEntered chan struct{}
}

var (
	_ firewall.Backend = (*memBackend)(nil)
	_ firewall.Healer  = (*memBackend)(nil)
)

func newMem() *memBackend { return &memBackend{set: map[jailPrefix]time.Time{}} }

func (b *memBackend) Name() string                                     { return "mem" }
func (b *memBackend) Setup(context.Context, []firewall.JailSpec) error { return nil }
func (b *memBackend) Teardown(context.Context) error                   { return nil }
func (b *memBackend) Check(context.Context, []firewall.Ban) (firewall.Repair, error) {
	return firewall.Repair{}, nil
}

func (b *memBackend) Ban(_ context.Context, bans []firewall.Ban) error {
	if b.block != nil {
		select {
		case b.entered <- struct{}{}:
		default:
		}
		<-b.block
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.banCall = append(b.banCall, len(bans))
	for _, x := range bans {
		b.set[jailPrefix{x.Jail, x.Prefix}] = x.Expires
	}
	return nil
}

func (b *memBackend) Unban(_ context.Context, bans []firewall.Ban) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unCall = append(b.unCall, len(bans))
	for _, x := range bans {
		delete(b.set, jailPrefix{x.Jail, x.Prefix})
	}
	return nil
}

func (b *memBackend) List(context.Context) ([]firewall.Ban, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []firewall.Ban
	for k, v := range b.set {
		out = append(out, firewall.Ban{Jail: k.jail, Prefix: k.prefix, Expires: v})
	}
	return out, nil
}

// Heal puts back every wanted ban that is missing and counts it.
func (b *memBackend) Heal(_ context.Context, want []firewall.Ban) (firewall.Repair, error) {
	if b.healBlock != nil {
		b.healEntered <- struct{}{}
		<-b.healBlock
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.heals = append(b.heals, want)
	var r firewall.Repair
	for _, x := range want {
		k := jailPrefix{x.Jail, x.Prefix}
		if _, ok := b.set[k]; !ok {
			b.set[k] = x.Expires
			r.Bans++
		}
	}
	return r, nil
}

func (b *memBackend) has(jail string, p netip.Prefix) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.set[jailPrefix{jail, p}]
	return e, ok
}

func (b *memBackend) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.set)
}

func (b *memBackend) calls() (ban, unban []int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.banCall...), append([]int(nil), b.unCall...)
}

// openStore opens a real store in a temporary directory.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	return openStoreAt(t, filepath.Join(t.TempDir(), "warden.db"))
}

func openStoreAt(t testing.TB, path string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fileAction builds a real shell action that appends one line per
// operation to out. extra is added to its [Definition].
func fileAction(t testing.TB, jailName, out, extra string) *action.Action {
	t.Helper()
	dir := t.TempDir()
	conf := "[Definition]\n" +
		"actionban = echo ban <ip> <bantime> <bancount> <restored> >> <out>\n" +
		"actionunban = echo unban <ip> >> <out>\n" +
		"actionprolong = echo prolong <ip> <bantime> >> <out>\n" + extra +
		"\n[Init]\nout = " + out + "\n"
	files := map[string]string{
		"action.d/rec.conf": conf,
		"jail.conf":         "[" + jailName + "]\nenabled = true\nlogpath = /dev/null\nbackend = polling\naction = rec\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(os.DirFS(dir), config.Options{Root: dir, Jail: jailName})
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	a, err := action.New(cfg.Jail(jailName).Actions[0], action.Options{Jail: jailName})
	if err != nil {
		t.Fatalf("action.New: %v", err)
	}
	return a
}

// running starts m.Run and stops it when the test ends, failing the test
// if Run returned an error.
func running(t testing.TB, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-m.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
}

func pfx(s string) netip.Prefix {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p
	}
	a := netip.MustParseAddr(s)
	return netip.PrefixFrom(a, a.BitLen())
}

// addrN returns the n-th address of 10.0.0.0/8 (n < 2^24).
func addrN(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}
