package ipset

import (
	"os/exec"
	"testing"

	"warden/internal/firewall/firewalltest"
	"warden/internal/netnstest"
)

// variants are the two iptables flavours every kernel test runs with. The
// host's alternatives are never changed: the tools are named explicitly.
var variants = []string{"legacy", "nft"}

// netns is a network namespace created for one test and deleted after it,
// with the iptables variant the test drives.
type netns struct {
	name    string
	variant string
}

// newNetns creates a fresh network namespace, skipping the test when that
// or the ipset and iptables tools are missing.
func newNetns(t testing.TB, variant string) netns {
	t.Helper()
	for _, tool := range []string{"ipset", "iptables-" + variant, "ip6tables-" + variant, "iptables-" + variant + "-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian packages ipset, iptables)", tool)
		}
	}
	name, _ := netnstest.New(t, "warden-ipset")
	return netns{name: name, variant: variant}
}

// run runs a tool inside the namespace and returns its output.
func (n netns) run(t testing.TB, tool string, args ...string) string {
	t.Helper()
	return netnstest.Run(t, n.name, tool, args...)
}

// iptables runs the test's iptables variant for a family.
func (n netns) iptables(t testing.TB, v6 bool, args ...string) string {
	t.Helper()
	tool := "iptables-" + n.variant
	if v6 {
		tool = "ip6tables-" + n.variant
	}
	return n.run(t, tool, args...)
}

// backend opens a Backend whose commands run inside the namespace.
func (n netns) backend(t testing.TB) *Backend {
	t.Helper()
	b, err := New(Options{
		IPTables:  "iptables-" + n.variant,
		IP6Tables: "ip6tables-" + n.variant,
		Prefix:    []string{"ip", "netns", "exec", n.name},
		Logger:    firewalltest.Logger(t),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}
