package nftables

import (
	"log/slog"
	"os/exec"
	"strings"
	"testing"

	"warden/internal/netnstest"
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
	name, fd := netnstest.New(t, "warden-test")
	return netns{name: name, fd: fd}
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
