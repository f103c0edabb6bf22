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
// firewall-cmd and nft as each variant shows it, see nativeVisible, and a
// TCP connect from the address to port 22 from a second namespace fails),
// 4 do not, 5 spread over 11 minutes do not; firewall-cmd --reload is
// healed within 5 s by firewalld's Reloaded signal alone (the shell
// variant's repair is fail2ban's nine firewall-cmd runs: past 5 s it fails
// only if warden's own part of the time is over 2 s, as a loaded machine
// can make those runs alone take longer); the ban survives a warden
// restart; unbanip lifts it. Run natively and with fail2ban's own
// firewallcmd-new shell action (--shell-actions).
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
	// The shell action's firewall-cmd runs are timed, to tell their
	// time from warden's in the heal after a reload.
	runs := timeRuns(t, "firewall-cmd")
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
	// told, and would never see these lines. Periodic healing is off:
	// the reload must be healed by firewalld's Reloaded signal alone. It
	// heals the native backend, and runs the shell action's actioncheck,
	// which finds the chain gone and has it rebuilt and the bans put back.
	conf := writeConfDir(t, dir, fmt.Sprintf(fwdJail, logPath+" head"),
		"[Definition]\nlogtarget = STDERR\nloglevel = INFO\nhealinterval = 0\n")
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
	if !shell {
		nativeVisible(t, in, srv, jail, fwdAttacker, nft)
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

	// firewall-cmd --reload drops runtime direct rules; both variants
	// react to firewalld's Reloaded signal: the native backend heals, the
	// shell action's actioncheck runs (fail2ban's only at its next ban).
	// The shell variant polls the kernel's f2b chain with nft: firewall-cmd
	// is a Python program talking to firewalld, and running it every 100 ms
	// would slow down the very repair it waits for. firewall-cmd confirms
	// the ban once it is back.
	back := func() (bool, string) { return banned(fwdAttacker) }
	if shell {
		back = func() (bool, string) {
			out, err := in.Command(context.Background(), "nft", "list", "chain", "ip", "filter", "f2b-SSH").CombinedOutput()
			return err == nil && strings.Contains(string(out), "ip saddr "+fwdAttacker+" "), string(out)
		}
	}
	reloading := time.Now()
	in.Run(t, "firewall-cmd", "--reload")
	reloaded := time.Now()
	waitLong(t, 20*time.Second, "the ban is back after firewall-cmd --reload", back)
	healed := time.Now()
	d := healed.Sub(reloaded)
	fc := runs.within(t, reloaded, healed)
	t.Logf("ban back %v after firewall-cmd --reload (the reload took %v; firewall-cmd ran for %v of it)",
		d.Round(10*time.Millisecond), reloaded.Sub(reloading).Round(10*time.Millisecond), fc.Round(10*time.Millisecond))
	switch {
	case d <= 5*time.Second:
	case !shell:
		t.Errorf("ban back %v after firewall-cmd --reload, want within 5 s", d)
	case d-fc > 2*time.Second:
		t.Errorf("ban back %v after firewall-cmd --reload, want within 5 s; firewall-cmd ran for %v of it, warden for the other %v",
			d, fc, d-fc)
	default:
		// The shell repair is fail2ban's own: nine firewall-cmd runs
		// (the failed actioncheck, actionstop and actionstart with three
		// each, the actioncheck again, the reban), each a Python start
		// and a D-Bus round trip. warden's part is its own work plus
		// starting the action's shells (and the timing wrapper's): up
		// to 1.9 s was seen at load 8 on two cores.
		t.Logf("over the 5 s target: firewall-cmd alone ran for %v of it on this machine; warden's part was %v",
			fc.Round(10*time.Millisecond), (d - fc).Round(10*time.Millisecond))
	}
	// The server's reaction, by its log: the heal starts on the signal,
	// not at some later round (periodic healing is off).
	if at, ok := logTime(srv.stderr.String(), "firewall changed under a backend", reloading); !ok {
		t.Errorf("the server log shows no heal started by the reload")
	} else if r := at.Sub(reloaded); r > time.Second {
		t.Errorf("the heal started %v after the reload ended, want within 1 s", r)
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

// cmdRuns times the runs of one command through a wrapper put first on
// PATH: each run appends its start and end (Unix seconds) to a file.
type cmdRuns struct{ log string }

// timeRuns puts a timing wrapper of tool first on PATH, for the rest of
// the test and the processes it starts.
func timeRuns(t *testing.T, tool string) *cmdRuns {
	t.Helper()
	real, err := exec.LookPath(tool)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &cmdRuns{log: filepath.Join(dir, "runs")}
	// bash's EPOCHREALTIME reads the clock without a fork.
	script := fmt.Sprintf("#!/bin/bash\ns=$EPOCHREALTIME\n%s \"$@\"\nrc=$?\necho \"$s $EPOCHREALTIME\" >> %s\nexit $rc\n", real, r.log)
	if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return r
}

// within sums how long the runs overlapped [from, to].
func (r *cmdRuns) within(t *testing.T, from, to time.Time) time.Duration {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	var sum time.Duration
	for line := range strings.Lines(string(b)) {
		var s, e float64 // seconds since the epoch, to the microsecond
		if _, err := fmt.Sscan(line, &s, &e); err != nil {
			t.Fatalf("%s: %q: %v", r.log, line, err)
		}
		start := max(int64(s*1e6), from.UnixMicro())
		end := min(int64(e*1e6), to.UnixMicro())
		if end > start {
			sum += time.Duration(end-start) * time.Microsecond
		}
	}
	return sum
}

// logTime returns the time of the first line of a text-format server log
// (fail2ban's layout, local time to the millisecond) that contains msg and
// is stamped at or after since.
func logTime(log, msg string, since time.Time) (time.Time, bool) {
	for line := range strings.Lines(log) {
		if !strings.Contains(line, msg) || len(line) < len("2006-01-02 15:04:05,000") {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05,000", line[:len("2006-01-02 15:04:05,000")], time.Local)
		if err == nil && !at.Before(since.Truncate(time.Millisecond)) {
			return at, true
		}
	}
	return time.Time{}, false
}

// nativeVisible checks what shows a native firewalld ban (the decision in
// docs/KNOWN-GAPS.md): firewall-cmd lists the jail's direct rule naming its
// kernel set, one per family, and no rule for the address; the set holds
// the address and is referenced by that rule; nft shows the rule, which
// iptables-nft renders as an xt set match (nft cannot name the set); and
// warden client status --firewall counts the ban in place.
func nativeVisible(t *testing.T, in *fwdtest.Instance, srv *wardenProc, jail, addr, nft string) {
	t.Helper()
	rules := in.Run(t, "firewall-cmd", "--direct", "--get-all-rules")
	for _, want := range []string{
		"ipv4 filter INPUT_direct 0 -p tcp -m multiport --dports 22 -m set --match-set wfd4-" + jail + " src -j REJECT",
		"ipv6 filter INPUT_direct 0 -p tcp -m multiport --dports 22 -m set --match-set wfd6-" + jail + " src -j REJECT",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("firewall-cmd --direct --get-all-rules lacks %q:\n%s", want, rules)
		}
	}
	if strings.Contains(rules, addr) {
		t.Errorf("firewall-cmd --direct --get-all-rules names %s: the native backend makes no per-address rule (update docs/KNOWN-GAPS.md):\n%s", addr, rules)
	}
	if out, err := in.Command(context.Background(), "ipset", "test", "wfd4-"+jail, addr).CombinedOutput(); err != nil {
		t.Errorf("ipset test wfd4-%s %s: %v: %s", jail, addr, err, out)
	}
	set := in.Run(t, "ipset", "list", "wfd4-"+jail)
	for _, want := range []string{"References: 1", "Number of entries: 1", "\n" + addr + " timeout "} {
		if !strings.Contains(set, want) {
			t.Errorf("ipset list wfd4-%s lacks %q:\n%s", jail, want, set)
		}
	}
	for _, table := range []string{"table ip filter {", "table ip6 filter {"} {
		_, body, ok := strings.Cut(nft, table)
		body, _, _ = strings.Cut(body, "\n}")
		if !ok || !strings.Contains(body, "chain INPUT {") || !strings.Contains(body, "tcp dport 22 xt match set counter") ||
			!strings.Contains(body, " reject") {
			t.Errorf("nft list ruleset: %s lacks the direct rule (INPUT, tcp dport 22, xt match set, reject):\n%s", table, nft)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, srv.bin, "client", "-s", srv.sock, "status", "--firewall").CombinedOutput()
	if err != nil {
		t.Fatalf("client status --firewall: %v\n%s", err, out)
	}
	for _, want := range []string{"Firewall backend: firewalld", "Jail: " + jail, "State:\tok", "In place:\t1", "Should be:\t1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("client status --firewall lacks %q:\n%s", want, out)
		}
	}
}
