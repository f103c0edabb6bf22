package fwdtest

import (
	"strings"
	"testing"
)

// TestStart checks that the instance runs in its own namespace: firewalld
// answers on the private bus and its table exists there.
func TestStart(t *testing.T) {
	in := Start(t)
	if got := strings.TrimSpace(in.Run(t, "firewall-cmd", "--state")); got != "running" {
		t.Fatalf("firewall-cmd --state = %q", got)
	}
	if got := strings.TrimSpace(in.Run(t, "firewall-cmd", "--get-default-zone")); got != "public" {
		t.Errorf("default zone %q, want public (the test's firewalld.conf)", got)
	}
	if out := in.Run(t, "nft", "list", "tables"); !strings.Contains(out, "table inet firewalld") {
		t.Errorf("no firewalld table in the namespace:\n%s", out)
	}
	in.Stop()
	in.Stop() // a second Stop is harmless
}
