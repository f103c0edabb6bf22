package firewalltest

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

func TestHostBans(t *testing.T) {
	end := time.Unix(1e9, 0)
	bans := HostBans("sshd", 70_000, end)
	seen := map[netip.Prefix]bool{}
	for _, b := range bans {
		if b.Jail != "sshd" || !b.Expires.Equal(end) || !b.Prefix.IsSingleIP() || !b.Prefix.Addr().Is4() ||
			!netip.MustParsePrefix("10.0.0.0/8").Contains(b.Prefix.Addr()) || seen[b.Prefix] {
			t.Fatalf("bad or repeated ban %v", b)
		}
		seen[b.Prefix] = true
	}
	if len(seen) != 70_000 {
		t.Errorf("%d distinct bans, want 70000", len(seen))
	}
}

func TestGoldenUpdateThenMatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	Golden(t, path, "ruleset\n", true) // writes the file
	Golden(t, path, "ruleset\n", false)
}
