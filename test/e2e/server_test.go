package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"warden/internal/netnstest"
)

// buildWarden compiles the warden binary into a temporary directory.
func buildWarden(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "warden")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-o", bin, "warden/cmd/warden")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func newNetns(t *testing.T) string {
	t.Helper()
	name, _ := netnstest.New(t, "warden-e2e")
	return name
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServerBinary runs `warden server` inside a namespace on a one-jail
// configuration (fail2ban's sshd filter and nftables-multiport action),
// checks the systemd readiness message, a ban from the log in the kernel
// set, `warden client status sshd` in fail2ban-client's layout, `status
// --firewall` (the ban in place as it should be), that SIGHUP
// does not kill it and that SIGTERM stops it with status 0.
func TestServerBinary(t *testing.T) {
	needFail2ban(t, "filter.d/sshd.conf", "action.d/nftables-multiport.conf")
	ns := newNetns(t)
	bin := buildWarden(t)
	dir := t.TempDir()
	logPath := emptyLog(t, dir)
	conf := sshdJailDir(t, dir, logPath, "backend = polling\n")
	p := launchWarden(t, bin, ns, conf, dir, "--log-format", "json")
	sock, stderr := p.sock, p.stderr

	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		fmt.Fprintf(f, "%s host sshd[%d]: Failed password for invalid user admin from 203.0.113.5 port %d ssh2\n",
			time.Now().Format(time.Stamp), 700+i, 50000+i)
	}
	f.Close()
	waitFor(t, "203.0.113.5 is in the kernel set", func() bool {
		out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "warden", "addr4-sshd").CombinedOutput()
		return bytes.Contains(out, []byte("203.0.113.5 "))
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "client", "-s", sock, "status", "sshd").CombinedOutput()
	if err != nil {
		t.Fatalf("client status: %v\n%s", err, out)
	}
	for _, want := range []string{
		"Status for the jail: sshd",
		"|  |- Total failed:\t3",
		"|  `- File list:\t" + logPath,
		"   |- Currently banned:\t1",
		"   `- Banned IP list:\t203.0.113.5",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("client status lacks %q:\n%s", want, out)
		}
	}

	out, err = exec.CommandContext(ctx, bin, "client", "-s", sock, "status", "--firewall").CombinedOutput()
	if err != nil {
		t.Fatalf("client status --firewall: %v\n%s", err, out)
	}
	for _, want := range []string{"Firewall backend: nftables (table inet warden)", "`- Jail: sshd", "|- State:\tok", "|- In place:\t1", "|- Should be:\t1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("client status --firewall lacks %q:\n%s", want, out)
		}
	}

	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, bin, "client", "-s", sock, "ping").CombinedOutput(); err != nil {
		t.Fatalf("ping after SIGHUP: %v\n%s", err, out)
	}
	p.stop()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	for _, want := range []string{`"msg":"server ready"`, `"msg":"ban","jail":"sshd","prefix":"203.0.113.5/32"`, `SIGHUP received`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("server log (JSON on stderr) lacks %s", want)
		}
	}
}

// TestServerDaemon starts `warden server` without -f: it returns once the
// detached daemon serves, on the socket and pid file fail2ban.conf names;
// `warden client -c CONF` finds that socket; a second daemon on the same
// socket fails and says why; SIGTERM stops the first and removes its pid
// file and socket. A shell action keeps the test free of firewalls.
func TestServerDaemon(t *testing.T) {
	needFail2ban(t, "filter.d/sshd.conf")
	bin := buildWarden(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	if err := os.MkdirAll(filepath.Join(conf, "action.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/fail2ban/filter.d", filepath.Join(conf, "filter.d")); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "auth.log")
	sock, pidfile, serverLog := filepath.Join(dir, "run", "f2b.sock"), filepath.Join(dir, "run", "warden.pid"), filepath.Join(dir, "warden.log")
	files := map[string]string{
		"auth.log":             "",
		"conf/action.d/x.conf": "[Definition]\nactionban = true\n",
		"conf/jail.conf":       fmt.Sprintf("[sshd]\nenabled = true\nfilter = sshd\nlogpath = %s\nbackend = polling\naction = x\n", logPath),
		"conf/fail2ban.conf": fmt.Sprintf("[Definition]\nlogtarget = %s\nloglevel = INFO\nsocket = %s\npidfile = %s\ndbfile = %s\n",
			serverLog, sock, pidfile, filepath.Join(dir, "warden.db")),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pid := 0
	t.Cleanup(func() {
		if pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			b, _ := os.ReadFile(serverLog)
			t.Logf("server log:\n%s", b)
		}
	})

	start := time.Now()
	if out, err := exec.CommandContext(ctx, bin, "server", "--conf", conf).CombinedOutput(); err != nil {
		t.Fatalf("server (daemonising): %v\n%s", err, out)
	}
	t.Logf("daemonised server ready after %v", time.Since(start).Round(time.Millisecond))
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if _, err := fmt.Sscan(string(b), &pid); err != nil || syscall.Kill(pid, 0) != nil {
		t.Fatalf("pid file %q: no live process", b)
	}
	out, err := exec.CommandContext(ctx, bin, "client", "-c", conf, "ping").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "Server replied: pong" {
		t.Fatalf("client -c conf ping: %v\n%s", err, out)
	}

	// A second daemon on the same socket: the parent reports the child's error.
	second := time.Now()
	out, err = exec.CommandContext(ctx, bin, "server", "--conf", conf, "--pidfile", filepath.Join(dir, "second.pid")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), sock) {
		t.Errorf("second server: %v, want an error naming the socket in use:\n%s", err, out)
	}
	t.Logf("second server failed after %v: %s", time.Since(second).Round(time.Millisecond), bytes.TrimSpace(out))
	if _, err := os.Stat(filepath.Join(dir, "second.pid")); !os.IsNotExist(err) {
		t.Errorf("the failed second server left its pid file: %v", err)
	}

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopAt := time.Now()
	waitFor(t, "the daemon removed its pid file and socket", func() bool {
		_, perr := os.Stat(pidfile)
		_, serr := os.Stat(sock)
		return os.IsNotExist(perr) && os.IsNotExist(serr)
	})
	t.Logf("stopped %v after SIGTERM", time.Since(stopAt).Round(time.Millisecond))
	pid = 0
	if b, _ := os.ReadFile(serverLog); !bytes.Contains(b, []byte("server ready")) {
		t.Errorf("server log lacks the ready line:\n%s", b)
	}
}
