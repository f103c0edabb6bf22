package netnstest

import (
	"os"
	"strings"
	"testing"
)

// TestNew: the namespace exists while the test runs, starts with an empty
// ruleset, and is gone after its cleanup.
func TestNew(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		var fd int
		name, fd = New(t, "warden-netnstest")
		if fd <= 0 {
			t.Fatalf("fd %d", fd)
		}
		if out := Run(t, name, "nft", "list", "ruleset"); strings.TrimSpace(out) != "" {
			t.Fatalf("fresh namespace ruleset: %q", out)
		}
		if out := Run(t, name, "ip", "-o", "link", "show"); strings.Count(out, "\n") != 1 || !strings.Contains(out, " lo:") {
			t.Errorf("fresh namespace links: %q, want lo alone", out)
		}
	})
	if name == "" {
		t.Skip("no namespace could be made")
	}
	if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("namespace %s still there after cleanup: %v", name, err)
	}
}
