// Package netnstest creates throwaway network namespaces for tests that
// drive the real kernel firewall, so that the host's own ruleset is never
// touched.
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// New creates a fresh network namespace named prefix-<random> that is
// deleted when the test ends, and returns its name and an open descriptor of
// it (closed before the namespace is deleted). It skips the test when that is
// impossible: not root, no ip or nft tool, no namespace support.
func New(tb testing.TB, prefix string) (name string, fd int) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root to create a network namespace")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("needs the %s tool (Debian packages iproute2, nftables)", tool)
		}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name = prefix + "-" + hex.EncodeToString(rnd[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		tb.Skipf("cannot create network namespace: %v: %s", err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			tb.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		tb.Fatalf("open netns %s: %v", name, err)
	}
	tb.Cleanup(func() { f.Close() })
	return name, int(f.Fd())
}

// Run runs tool with args inside the namespace name and returns its
// combined output, failing the test when the tool fails.
func Run(tb testing.TB, name, tool string, args ...string) string {
	tb.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", name, tool}, args...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v: %s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}
