package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestIpsetBackend is issue 4's acceptance 2 and 3 for the iptables + ipset
// backend, on an iptables-legacy and an iptables-nft host (chosen by
// naming the tools in fail2ban.conf; the host's alternatives are never
// touched): a jail with fail2ban's iptables-multiport action, unchanged,
// runs natively. 5 failures ban (the address is in the ipset, a TCP
// connect to port 22 from a second namespace fails), 4 do not; iptables
// -F is healed within 5 s; a restart restores the ban; unbanip lifts it;
// stopping warden removes its rules and sets.
func TestIpsetBackend(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	for _, tool := range []string{"ip", "nft", "nc", "ipset"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian packages iproute2, nftables, netcat-openbsd, ipset): %v", tool, err)
		}
	}
	needFail2ban(t, "filter.d/sshd.conf", "action.d/iptables-multiport.conf")
	bin := buildWarden(t)
	for _, variant := range []string{"legacy", "nft"} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			for _, tool := range []string{"iptables-" + variant, "ip6tables-" + variant, "iptables-" + variant + "-restore"} {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("needs %s (Debian package iptables): %v", tool, err)
				}
			}
			runIpsetCase(t, bin, variant)
		})
	}
}

func runIpsetCase(t *testing.T, bin, variant string) {
	const jail = "ssh-iptables"
	const set = "f2b-" + jail
	n := newSSHDNet(t)
	listenTCP22(t, n, sshdIgnored)
	dir := t.TempDir()
	logPath := emptyLog(t, dir)
	jailConf := fmt.Sprintf("[%s]\nenabled = true\nfilter = sshd\nlogpath = %s\nignoreself = false\n"+
		"maxretry = 5\nfindtime = 600\nbantime = 31536000\naction = iptables-multiport[name=SSH, port=ssh, protocol=tcp]\n",
		jail, logPath)
	// healinterval 2s leaves room inside the 5 s the issue allows.
	main := fmt.Sprintf("[Definition]\nlogtarget = STDERR\nloglevel = INFO\nhealinterval = 2s\n"+
		"iptables = iptables-%s\nip6tables = ip6tables-%s\n", variant, variant)
	conf := writeConfDir(t, dir, jailConf, main)
	srv := launchWarden(t, bin, n.server, conf, dir)

	inNS := func(args ...string) string {
		out, _ := exec.Command("ip", append([]string{"netns", "exec", n.server}, args...)...).CombinedOutput()
		return string(out)
	}
	ipt := "iptables-" + variant
	rules := func() string { return inNS(ipt, "-w", "-S", "INPUT") }
	inSet := func(addr string) bool {
		return strings.Contains(inNS("ipset", "list", set), "\n"+addr+" ")
	}
	if r := rules(); !strings.Contains(r, "--match-set "+set+" src") || !strings.Contains(r, "--dports 22 ") {
		t.Fatalf("%s has no rule for the jail's set on port 22:\n%s", ipt, r)
	}
	other := map[string]string{"legacy": "iptables-nft", "nft": "iptables-legacy"}[variant]
	if r := inNS(other, "-w", "-S", "INPUT"); strings.Contains(r, "--match-set") {
		t.Errorf("rule went to %s, not %s:\n%s", other, ipt, r)
	}

	// Four failures from one address (not banned), then five from the
	// attacker; once the attacker is banned every line has been read.
	appendLines(t, logPath, sshdFailures(sshdIgnored, 4, 0)+sshdFailures(sshdAttacker, 5, 100))
	waitFor(t, "the attacker is in the ipset", func() bool { return inSet(sshdAttacker) })
	if canConnect(n, sshdAttacker) {
		t.Errorf("attacker still connects to port 22 while banned")
	}
	if inSet(sshdIgnored) || !canConnect(n, sshdIgnored) {
		t.Errorf("%s was banned after 4 failures (maxretry 5)", sshdIgnored)
	}
	if got := bannedList(t, srv, jail); got != sshdAttacker {
		t.Errorf("banned list %q, want %s", got, sshdAttacker)
	}

	// Heal: the rules flushed behind warden's back come back within 5 s.
	inNS(ipt, "-w", "-F")
	flushed := time.Now()
	waitFor(t, "the rule is back", func() bool { return strings.Contains(rules(), "--match-set "+set+" src") })
	if d := time.Since(flushed); d > 5*time.Second {
		t.Errorf("rules healed after %v, want within 5s", d)
	} else {
		t.Logf("rules healed %v after iptables -F", d.Round(10*time.Millisecond))
	}
	if canConnect(n, sshdAttacker) {
		t.Errorf("attacker connects after the heal")
	}

	// A restart (stop removes the rules and sets) restores the ban from
	// the database.
	srv.stop()
	if inSet(sshdAttacker) {
		t.Errorf("set still holds the ban after a clean stop")
	}
	srv = launchWarden(t, bin, n.server, conf, dir)
	waitFor(t, "the ban is restored after a restart", func() bool { return inSet(sshdAttacker) })
	if canConnect(n, sshdAttacker) {
		t.Errorf("attacker connects after the restart")
	}

	// unbanip lifts the ban.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "client", "-s", srv.sock, "set", jail, "unbanip", sshdAttacker).CombinedOutput(); err != nil {
		t.Fatalf("client set %s unbanip: %v\n%s", jail, err, out)
	}
	waitFor(t, "the attacker leaves the ipset", func() bool { return !inSet(sshdAttacker) })
	if !canConnect(n, sshdAttacker) {
		t.Errorf("attacker cannot connect after unbanip")
	}

	// A clean stop removes warden's rules and sets.
	srv.stop()
	if r := rules(); strings.Contains(r, "warden:") {
		t.Errorf("rules left after stop:\n%s", r)
	}
	if s := inNS("ipset", "list", "-n"); strings.Contains(s, set) {
		t.Errorf("sets left after stop: %s", s)
	}
}
