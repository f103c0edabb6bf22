package nftables

import (
	"testing"

	"warden/internal/firewall/firewalltest"
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
	return netnstest.Run(t, n.name, "nft", args...)
}

// backend opens a Backend bound to the namespace.
func (n netns) backend(t testing.TB) *Backend {
	t.Helper()
	b, err := New(Options{NetNS: n.fd, Logger: firewalltest.Logger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
