package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/control"
	"warden/internal/netnstest"
)

// testNetns creates a fresh network namespace (deleted after the test) and
// returns its name and an open descriptor of it.
func testNetns(t *testing.T) (string, int) {
	t.Helper()
	return netnstest.New(t, "warden-srv")
}

// testConf writes a configuration tree with one sshd jail on logPath,
// borrowing filter.d and action.d from fail2ban's installed tree.
func testConf(t *testing.T, logPath string) string {
	t.Helper()
	for _, need := range []string{"/etc/fail2ban/filter.d/sshd.conf", "/etc/fail2ban/action.d/nftables-multiport.conf"} {
		if _, err := os.Stat(need); err != nil {
			t.Skipf("needs fail2ban's configuration: %v", err)
		}
	}
	dir := t.TempDir()
	for _, sub := range []string{"filter.d", "action.d"} {
		if err := os.Symlink("/etc/fail2ban/"+sub, filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	jail := fmt.Sprintf(`[DEFAULT]
ignoreself = false
backend = auto

[sshd]
enabled = true
filter = sshd
logpath = %s
maxretry = 3
findtime = 10m
bantime = 4
action = nftables-multiport[name=sshd, port=22, protocol=tcp]
`, logPath)
	if err := os.WriteFile(filepath.Join(dir, "jail.conf"), []byte(jail), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

type e2e struct {
	t      *testing.T
	ns     string
	fd     int
	conf   *config.Config
	db     string
	socket string
	log    string
	keep   bool          // Options.KeepBans of the next start
	heal   time.Duration // Options.HealInterval of the next start
}

// start runs a server until the returned stop function is called.
func (e *e2e) start() (stop func()) {
	t := e.t
	srv, err := New(Options{
		Config: e.conf, DBPath: e.db, Socket: e.socket, NetNS: e.fd, KeepBans: e.keep, HealInterval: e.heal,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Notify: func(string) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	e.waitFor("server answers ping", func() bool {
		c, err := control.Dial(ctx, e.socket)
		if err != nil {
			return false
		}
		defer c.Close()
		return c.Ping(ctx) == nil
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("server did not stop")
			}
		})
	}
}

func (e *e2e) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kernelSet lists the addresses in the jail's IPv4 set inside the namespace.
func (e *e2e) kernelSet() string {
	out, err := exec.Command("ip", "netns", "exec", e.ns, "nft", "list", "set", "inet", "warden", "addr4-sshd").CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

func (e *e2e) inKernel(ip string) bool { return strings.Contains(e.kernelSet(), ip+" ") }

func (e *e2e) appendFailures(ip string, n int) {
	f, err := os.OpenFile(e.log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	for i := range n {
		stamp := time.Now().Format(time.Stamp)
		fmt.Fprintf(f, "%s host sshd[%d]: Failed password for root from %s port %d ssh2\n", stamp, 1000+i, ip, 40000+i)
	}
}

func (e *e2e) client() *control.Client {
	c, err := control.Dial(context.Background(), e.socket)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func TestEndToEnd(t *testing.T) {
	ns, fd := testNetns(t)
	tmp := t.TempDir()
	logPath := filepath.Join(tmp, "auth.log")
	if err := os.WriteFile(logPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	root := testConf(t, logPath)
	cfg, err := config.Load(os.DirFS(root), config.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, ns: ns, fd: fd, conf: cfg, db: filepath.Join(tmp, "warden.db"),
		socket: filepath.Join(tmp, "warden.sock"), log: logPath, heal: -1}
	ctx := context.Background()

	stop := e.start()
	t0 := time.Now()
	e.appendFailures("192.0.2.10", 3)
	e.waitFor("192.0.2.10 is in the kernel set", func() bool { return e.inKernel("192.0.2.10") })
	t.Logf("log lines to kernel set element: %v (backend auto, checked every 50ms)", time.Since(t0))
	c := e.client()
	st, err := c.JailStatus(ctx, "sshd", control.FlavorBasic)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(st.BannedIPs, control.AddrTarget(netip.MustParseAddr("192.0.2.10"))) || st.CurrentlyBanned != 1 ||
		st.TotalFailed != 3 || !slices.Contains(st.Files, logPath) {
		t.Errorf("status sshd = %+v", st)
	}
	e.waitFor("the ban of 192.0.2.10 lifts at expiry", func() bool {
		st, err := c.JailStatus(ctx, "sshd", control.FlavorBasic)
		return err == nil && st.CurrentlyBanned == 0 && !e.inKernel("192.0.2.10")
	})

	ip := netip.MustParseAddr("192.0.2.20")
	if n, err := c.BanIP(ctx, "sshd", ip); err != nil || n != 1 {
		t.Fatalf("banip = %d, %v", n, err)
	}
	if !e.inKernel("192.0.2.20") {
		t.Errorf("banip: 192.0.2.20 not in the kernel set:\n%s", e.kernelSet())
	}
	if n, err := c.UnbanIP(ctx, "sshd", false, ip); err != nil || n != 1 {
		t.Fatalf("unbanip = %d, %v", n, err)
	}
	if e.inKernel("192.0.2.20") {
		t.Errorf("unbanip: 192.0.2.20 still in the kernel set")
	}
	if _, err := c.Get(ctx, "sshd", "maxretry"); err != nil {
		t.Errorf("get sshd maxretry: %v", err)
	}
	if err := c.Reload(ctx, control.ReloadOptions{}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("reload: %v, want a not-supported error", err)
	}

	// A ban in force survives a restart through the store, even when the
	// kernel lost it; lines written while the server is down are read once.
	if _, err := c.BanIP(ctx, "sshd", netip.MustParseAddr("192.0.2.30")); err != nil {
		t.Fatal(err)
	}
	// status --firewall: in place as it should be, then (healing is off
	// in this run) one element lost outside warden shows as missing.
	checkFirewall := func(inPlace int, missing string) {
		t.Helper()
		fs, err := c.FirewallStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 || fs[0].Backend != "nftables" || len(fs[0].Jails) != 1 {
			t.Fatalf("status --firewall = %+v, want one nftables backend with one jail", fs)
		}
		j := fs[0].Jails[0]
		if j.Jail != "sshd" || j.Wanted != 1 || j.InPlace != inPlace || fmt.Sprint(j.Missing) != missing || len(j.Extra) != 0 {
			t.Errorf("status --firewall sshd = %+v, want 1 wanted, %d in place, missing %s", j, inPlace, missing)
		}
	}
	checkFirewall(1, "[]")
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "delete", "element", "inet", "warden", "addr4-sshd", "{ 192.0.2.30 }").CombinedOutput(); err != nil {
		t.Fatalf("delete element: %v: %s", err, out)
	}
	checkFirewall(0, "[192.0.2.30/32]")
	stop()
	// Without keepbans, stopping removes warden's table.
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "warden").CombinedOutput(); err == nil {
		t.Fatalf("table inet warden still there after stop:\n%s", out)
	}
	e.appendFailures("192.0.2.40", 3)
	e.keep, e.heal = true, 200*time.Millisecond
	stop = e.start()
	defer stop()
	if !e.inKernel("192.0.2.30") {
		t.Errorf("192.0.2.30 not restored after restart:\n%s", e.kernelSet())
	}
	e.waitFor("192.0.2.40 (logged while down) is banned", func() bool { return e.inKernel("192.0.2.40") })
	c2 := e.client()
	time.Sleep(300 * time.Millisecond) // let any re-read line show
	st, err = c2.JailStatus(ctx, "sshd", control.FlavorBasic)
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalFailed != 3 {
		t.Errorf("after restart total failed = %d, want 3 (each line read once)", st.TotalFailed)
	}
	// Healing puts back a table deleted under the server.
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "warden").CombinedOutput(); err != nil {
		t.Fatalf("delete table: %v: %s", err, out)
	}
	e.waitFor("the heal puts 192.0.2.30 back", func() bool { return e.inKernel("192.0.2.30") })
	// With keepbans, the bans stay in the kernel after the stop.
	stop()
	if !e.inKernel("192.0.2.30") {
		t.Errorf("keepbans: 192.0.2.30 gone from the kernel after stop:\n%s", e.kernelSet())
	}
}
