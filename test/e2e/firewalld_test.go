package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall/firewalld/fwdtest"
)

// Addresses of the firewalld test's client namespace (the server side is
// sshdServerAddr inside firewalld's namespace).
const (
	fwdAttacker = "10.211.0.2" // 5 failures inside 10 minutes: banned
	fwdFour     = "10.211.0.3" // 4 failures: not banned
	fwdSpread   = "10.211.0.4" // 5 failures over 11 minutes: not banned
)

// fwdJail is issue 4's jail, as admins write it; only logpath is the test's.
const fwdJail = `[ssh-firewallcmd]
enabled  = true
filter   = sshd
action   = firewallcmd-new[name=SSH, port=ssh, protocol=tcp]
logpath  = %s
maxretry = 5
findtime = 600
bantime  = 31536000
`

// TestFirewalld is issue 4's acceptance 1, the classic firewalld setup: a
// real firewalld in its own namespace on a private system bus, the jail
// above unchanged. By log time, 5 failures inside 10 minutes ban (seen by
// firewall-cmd and nft, and a TCP connect from the address to port 22 from
// a second namespace fails), 4 do not, 5 spread over 11 minutes do not;
// firewall-cmd --reload is healed within 5 s (the shell variant by its
// actioncheck at the next heal round: within 10 s on a loaded machine);
// the ban survives a warden restart; unbanip lifts it. Run natively and
// with fail2ban's own firewallcmd-new shell action (--shell-actions).
func TestFirewalld(t *testing.T) {
	if why := fwdtest.Missing(); why != "" {
		t.Skip(why)
	}
	for _, tool := range []string{"nc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian package netcat-openbsd): %v", tool, err)
		}
	}
	needFail2ban(t, "filter.d/sshd.conf", "action.d/firewallcmd-new.conf")
	bin := buildWarden(t)
	t.Run("native", func(t *testing.T) { runFirewalldCase(t, bin, false) })
	t.Run("shell", func(t *testing.T) { runFirewalldCase(t, bin, true) })
}

// fwdNet joins firewalld's namespace and a new client namespace with a veth
// pair, and listens on port 22 in firewalld's namespace.
func fwdNet(t *testing.T, in *fwdtest.Instance) sshdNet {
	t.Helper()
	n := sshdNet{server: in.NS, client: newNetns(t)}
	joinNetns(t, n, fwdAttacker, fwdFour, fwdSpread)
	listenTCP22(t, n, fwdFour)
	return n
}

func runFirewalldCase(t *testing.T, bin string, shell bool) {
	in := fwdtest.Start(t)
	// warden, firewall-cmd and the shell actions find the bus here.
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", in.Bus)
	n := fwdNet(t, in)
	const jail = "ssh-firewallcmd"

	// The log is written before warden starts, so that the failures carry
	// their own times (a running jail takes stamps far from now as now).
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	now := time.Now()
	var log strings.Builder
	for i, ago := range []time.Duration{9 * time.Minute, 7 * time.Minute, 5 * time.Minute, 3 * time.Minute, time.Minute} {
		log.WriteString(failureAt(fwdAttacker, now.Add(-ago), i))
	}
	for i, ago := range []time.Duration{8 * time.Minute, 6 * time.Minute, 4 * time.Minute, 2 * time.Minute} {
		log.WriteString(failureAt(fwdFour, now.Add(-ago), 10+i))
	}
	for i := range 5 { // 11 minutes from first to last
		log.WriteString(failureAt(fwdSpread, now.Add(-11*time.Minute+time.Duration(i)*165*time.Second), 20+i))
	}
	if err := os.WriteFile(logPath, []byte(log.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// " head": read the file from its start, as fail2ban does by default
	// (from findtime ago); warden's file source starts at the end unless
	// told, and would never see these lines. Periodic healing is off for
	// the native backend: its reload must be healed by firewalld's
	// Reloaded signal alone. The shell action has no such hook: its
	// actioncheck, run at each heal round (every second here), finds the
	// chain gone and has it rebuilt and the bans put back.
	heal := "0"
	if shell {
		heal = "1"
	}
	conf := writeConfDir(t, dir, fmt.Sprintf(fwdJail, logPath+" head"),
		"[Definition]\nlogtarget = STDERR\nloglevel = INFO\nhealinterval = "+heal+"\n")
	var flags []string
	if shell {
		flags = []string{"--shell-actions"}
	}
	srv := launchWarden(t, bin, n.server, conf, dir, flags...)

	rules := func() string { return in.Run(t, "firewall-cmd", "--direct", "--get-all-rules") }
	// banned tells whether the firewall blocks addr as each variant shows
	// it: the native backend's kernel set (ipset test) named by a direct
	// rule, or fail2ban's per-address direct rule.
	banned := func(addr string) (bool, string) {
		r := rules()
		if shell {
			return strings.Contains(r, "-s "+addr+" -j REJECT"), r
		}
		if !strings.Contains(r, "--match-set wfd4-"+jail+" src") {
			return false, r
		}
		err := in.Command(context.Background(), "ipset", "test", "wfd4-"+jail, addr).Run()
		return err == nil, r
	}
	waitLong(t, 15*time.Second, "the attacker is banned", func() (bool, string) { return banned(fwdAttacker) })
	nft := in.Run(t, "nft", "list", "ruleset")
	if shell && !strings.Contains(nft, "ip saddr "+fwdAttacker) {
		t.Errorf("nft list ruleset does not show %s:\n%s", fwdAttacker, nft)
	}
	if !shell && !strings.Contains(nft, "tcp dport 22 xt match") {
		t.Errorf("nft list ruleset shows no set match on port 22:\n%s", nft)
	}
	if canConnect(n, fwdAttacker) {
		t.Errorf("banned %s still connects to port 22", fwdAttacker)
	}
	for _, a := range []string{fwdFour, fwdSpread} {
		if ok, _ := banned(a); ok || !canConnect(n, a) {
			t.Errorf("%s is banned; its failures do not reach 5 inside 10 minutes", a)
		}
	}
	if got := bannedList(t, srv, jail); got != fwdAttacker {
		t.Errorf("banned list %q, want %s", got, fwdAttacker)
	}

	// firewall-cmd --reload drops runtime direct rules; the native backend
	// heals on firewalld's Reloaded signal, the shell action at the next
	// heal round's actioncheck (fail2ban only at its next ban).
	// The shell variant polls the kernel's f2b chain with nft: firewall-cmd
	// is a Python program talking to firewalld, and running it every 100 ms
	// would slow down the very repair (nine firewall-cmd runs) it waits
	// for. firewall-cmd confirms the ban once it is back.
	back := func() (bool, string) { return banned(fwdAttacker) }
	if shell {
		back = func() (bool, string) {
			out, err := in.Command(context.Background(), "nft", "list", "chain", "ip", "filter", "f2b-SSH").CombinedOutput()
			return err == nil && strings.Contains(string(out), "ip saddr "+fwdAttacker+" "), string(out)
		}
	}
	// The target is 5 s. The shell repair is seven firewall-cmd runs
	// (the failed actioncheck, actionstop, actionstart, actioncheck again)
	// and the reban, after up to a heal interval: about 3 s on an idle
	// machine, but each run takes up to a second of CPU when the machine
	// is loaded, so that variant fails only past 10 s and logs the rest.
	limit := 5 * time.Second
	if shell {
		limit = 10 * time.Second
	}
	in.Run(t, "firewall-cmd", "--reload")
	reloaded := time.Now()
	waitLong(t, limit+5*time.Second, "the ban is back after firewall-cmd --reload", back)
	switch d := time.Since(reloaded); {
	case d > limit:
		t.Errorf("ban back %v after firewall-cmd --reload, want within %v", d, limit)
	case d > 5*time.Second:
		t.Logf("ban back %v after firewall-cmd --reload: over the 5 s target (firewall-cmd is slow on a loaded machine)", d.Round(10*time.Millisecond))
	default:
		t.Logf("ban back %v after firewall-cmd --reload", d.Round(10*time.Millisecond))
	}
	if ok, r := banned(fwdAttacker); !ok {
		t.Errorf("firewall-cmd --direct --get-all-rules does not show the ban after the reload:\n%s", r)
	}
	if canConnect(n, fwdAttacker) {
		t.Errorf("%s connects after the reload was healed", fwdAttacker)
	}

	// A warden restart (clean stop, then start on the same database)
	// keeps the ban.
	srv.stop()
	srv = launchWarden(t, bin, n.server, conf, dir, flags...)
	waitLong(t, 15*time.Second, "the ban is back after a warden restart", func() (bool, string) { return banned(fwdAttacker) })
	if canConnect(n, fwdAttacker) {
		t.Errorf("%s connects after the restart", fwdAttacker)
	}
	if got := bannedList(t, srv, jail); got != fwdAttacker {
		t.Errorf("banned list after restart %q, want %s", got, fwdAttacker)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "client", "-s", srv.sock, "set", jail, "unbanip", fwdAttacker).CombinedOutput(); err != nil {
		t.Fatalf("client set %s unbanip: %v\n%s", jail, err, out)
	}
	waitLong(t, 10*time.Second, "the ban is gone after unbanip", func() (bool, string) {
		ok, r := banned(fwdAttacker)
		return !ok, r
	})
	if !canConnect(n, fwdAttacker) {
		t.Errorf("%s cannot connect after unbanip", fwdAttacker)
	}
	srv.stop()
	if r := rules(); strings.Contains(r, "wfd4-") || strings.Contains(r, "f2b-SSH") {
		t.Errorf("direct rules left after stop:\n%s", r)
	}
}
