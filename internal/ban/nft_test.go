package ban

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/nftables"
	"warden/internal/jail"
	"warden/internal/netnstest"
)

// netnsFD creates a fresh network namespace for one test and returns its
// name and an open descriptor; the test is skipped when that is impossible.
// The host's namespace is never touched.
func netnsFD(t testing.TB) (string, int) {
	t.Helper()
	return netnstest.New(t, "warden-ban")
}

// nftBackend opens the real nftables backend in the namespace and installs
// jail sshd (tcp/22).
func nftBackend(t testing.TB, fd int) *nftables.Backend {
	t.Helper()
	b, err := nftables.New(nftables.Options{NetNS: fd})
	if err != nil {
		t.Fatalf("nftables.New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Setup(context.Background(), []firewall.JailSpec{{Name: "sshd", Ports: []firewall.PortRange{{First: 22, Last: 22}}}}); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return b
}

func kernelCount(t *testing.T, b *nftables.Backend) int {
	t.Helper()
	l, err := b.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return len(l)
}

// TestNftablesBanRestoreExpire bans 10,000 addresses through the real
// nftables backend, restarts (a new manager and backend on the same store,
// after the kernel table was lost) and lets the bans expire.
func TestNftablesBanRestoreExpire(t *testing.T) {
	ns, fd := netnsFD(t)
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "warden.db")
	st := openStoreAt(t, dbPath)
	// The backend turns Expires into kernel timeouts by the real clock,
	// so the fake clock starts at real time.
	clk := newFakeClock(time.Now().Truncate(time.Second))
	cfg := func(b firewall.Backend) Config {
		return Config{
			Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}}},
			Backends: []firewall.Backend{b}, Store: st, Clock: clk,
		}
	}
	const n = 10_000
	b1 := nftBackend(t, fd)
	m1, err := New(cfg(b1))
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m1.Run(rctx) }()
	<-m1.Ready()
	for i := range n {
		if err := m1.Submit(ctx, "sshd", ticket(addrN(i).String(), clk.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if err := m1.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kernelCount(t, b1); got != n {
		t.Fatalf("kernel holds %d bans, want %d", got, n)
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "warden", "addr4-sshd").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.0.39.15 ") {
		t.Errorf("nft list set: %v\n%.400s", err, out)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Simulated restart: the kernel lost everything (reboot), a new
	// backend and manager start on the same database.
	if err := b1.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	b2 := nftBackend(t, fd)
	m2, err := New(cfg(b2))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	running(t, m2)
	t.Logf("restore of %d bans: %v", n, time.Since(start))
	if got := kernelCount(t, b2); got != n {
		t.Fatalf("after restart the kernel holds %d bans, want %d", got, n)
	}
	// Expiry removes them from the kernel set.
	clk.Advance(59 * time.Minute)
	if err := m2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kernelCount(t, b2); got != 0 {
		t.Fatalf("after expiry the kernel holds %d bans", got)
	}
	if s, _ := m2.Stats("sshd"); s.Banned != 0 {
		t.Errorf("stats %+v", s)
	}
}
