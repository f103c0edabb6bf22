package nftables

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// netns is a network namespace created for one test and deleted after it.
type netns struct {
	name string
	fd   int
}

// newNetns creates a fresh network namespace, skipping the test when that
// is impossible (not root, no ip tool, no namespace support). The host's
// own namespace is never touched.
func newNetns(t testing.TB) netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("nftables tests need root to create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("nftables tests need the ip tool (iproute2)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nftables tests need the nft tool (Debian package nftables) to verify the kernel state")
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "warden-test-" + hex.EncodeToString(rnd[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatalf("open netns: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return netns{name: name, fd: int(f.Fd())}
}

// nft runs the nft tool inside the namespace and returns its output.
func (n netns) nft(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.name, "nft"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// backend opens a Backend bound to the namespace.
func (n netns) backend(t testing.TB) *Backend {
	t.Helper()
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := New(Options{NetNS: n.fd, Logger: log})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// tbWriter sends log lines to the test log, shown with -v or on failure.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
