package netnstest

import (
	"os"
	"os/exec"
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
		out, err := exec.Command("ip", "netns", "exec", name, "nft", "list", "ruleset").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Fatalf("fresh namespace ruleset: %v: %q", err, out)
		}
	})
	if name == "" {
		t.Skip("no namespace could be made")
	}
	if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("namespace %s still there after cleanup: %v", name, err)
	}
}
