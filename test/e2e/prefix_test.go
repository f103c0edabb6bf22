package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPrefixBanListed runs `warden server` with banprefix6 = 64 and
// banprefix.count: failures from two addresses of one /64 add up to one
// ban of the /64, in the kernel set and as "2001:db8:1:2::/64" in `warden
// client status`, in fail2ban-client's `banned` (through the symlink) and
// in `status --json`; an address inside the network finds it and lifts it,
// and the network itself can be banned and unbanned by name.
func TestPrefixBanListed(t *testing.T) {
	ns := newNetns(t)
	bin := buildWarden(t)
	dir := t.TempDir()
	logPath := emptyLog(t, dir)
	conf := sshdJailDir(t, dir, logPath, "backend = polling\nbanprefix6 = 64\nbanprefix.count = true\n")
	p := launchWarden(t, bin, ns, conf, dir)
	f2b := filepath.Join(dir, "fail2ban-client")
	if err := os.Symlink(bin, f2b); err != nil {
		t.Fatal(err)
	}

	const net64 = "2001:db8:1:2::/64"
	inSet := func() string { // the interval set of IPv6 networks
		out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "warden", "net6-sshd").CombinedOutput()
		return string(out)
	}
	appendLines(t, logPath, sshdFailures("2001:db8:1:2::1", 2, 0)+sshdFailure("2001:db8:1:2:ffff::2", 2))
	waitFor(t, "the /64 is in the kernel set", func() bool { return strings.Contains(inSet(), net64) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := func(prog string, words ...string) string {
		t.Helper()
		args := append([]string{"-s", p.sock}, words...)
		if prog == bin {
			args = append([]string{"client"}, args...)
		}
		out, err := exec.CommandContext(ctx, prog, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %q: %v\n%s", filepath.Base(prog), words, err, out)
		}
		return strings.TrimRight(string(out), "\n")
	}

	st := client(bin, "status", "sshd")
	for _, want := range []string{"   |- Currently banned:\t1", "   `- Banned IP list:\t" + net64} {
		if !strings.Contains(st, want) {
			t.Errorf("client status lacks %q:\n%s", want, st)
		}
	}
	if got := client(f2b, "status", "sshd"); !strings.Contains(got, "`- Banned IP list:\t"+net64) {
		t.Errorf("fail2ban-client status sshd:\n%s\nwant the /64 listed", got)
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"banned"}, "[{'sshd': ['" + net64 + "']}]"},
		{[]string{"banned", "2001:db8:1:2::77", "2001:db8:1:3::1"}, "[['sshd'], []]"},
		{[]string{"get", "sshd", "banip"}, net64},
	} {
		if got := client(f2b, c.words...); got != c.want {
			t.Errorf("fail2ban-client %q = %q, want %q", c.words, got, c.want)
		}
	}
	var js struct {
		CurrentlyBanned int      `json:"currently_banned"`
		BannedIPs       []string `json:"banned_ips"`
	}
	if out := client(bin, "--json", "status", "sshd"); json.Unmarshal([]byte(out), &js) != nil ||
		js.CurrentlyBanned != 1 || len(js.BannedIPs) != 1 || js.BannedIPs[0] != net64 {
		t.Errorf("status --json = %s, want banned_ips [%q]", out, net64)
	}
	var bans []struct {
		Jail string   `json:"jail"`
		IPs  []string `json:"ips"`
	}
	if out := client(bin, "--json", "banned"); json.Unmarshal([]byte(out), &bans) != nil ||
		len(bans) != 1 || len(bans[0].IPs) != 1 || bans[0].IPs[0] != net64 {
		t.Errorf("banned --json = %s, want sshd's %s", out, net64)
	}

	// An address inside the network lifts its ban.
	if got := client(f2b, "set", "sshd", "unbanip", "2001:db8:1:2::77"); got != "1" {
		t.Errorf("unbanip of an address inside the /64 = %q, want 1", got)
	}
	waitFor(t, "the /64 leaves the kernel set", func() bool { return !strings.Contains(inSet(), net64) })
	// The network by name.
	if got := client(f2b, "set", "sshd", "banip", net64); got != "1" {
		t.Errorf("banip %s = %q, want 1", net64, got)
	}
	waitFor(t, "the /64 is back in the kernel set", func() bool { return strings.Contains(inSet(), net64) })
	if got := client(bin, "status", "sshd"); !strings.Contains(got, "`- Banned IP list:\t"+net64) {
		t.Errorf("status after banip of the /64:\n%s", got)
	}
	if got := client(f2b, "set", "sshd", "unbanip", net64); got != "1" {
		t.Errorf("unbanip %s = %q, want 1", net64, got)
	}
	waitFor(t, "the /64 leaves the kernel set again", func() bool { return !strings.Contains(inSet(), net64) })
	if got := client(f2b, "banned"); got != "[{'sshd': []}]" {
		t.Errorf("banned at the end = %q, want none", got)
	}
}
