// Package fwdtest starts a real firewalld for tests: a private D-Bus system
// bus in a temporary directory and firewalld --nofork inside a fresh network
// namespace, with its configuration in that directory. The host's bus,
// firewall and /etc/firewalld are never touched.
package fwdtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BusName is the name firewalld owns on the system bus.
const BusName = "org.fedoraproject.FirewallD1"

// busConfig is a minimal system bus configuration for a bus only the test
// uses: it listens on one socket path and lets everyone own names and call
// methods.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
`

// firewalldConf is the test daemon's firewalld.conf: the Debian defaults
// that matter, written out so that the host's /etc/firewalld plays no part.
const firewalldConf = `DefaultZone=public
FirewallBackend=nftables
FlushAllOnReload=yes
CleanupOnExit=yes
IndividualCalls=no
LogDenied=off
`

// Tools are the programs Launch needs, with their Debian packages.
var tools = [][2]string{
	{"ip", "iproute2"}, {"nft", "nftables"}, {"dbus-daemon", "dbus"},
	{"firewalld", "firewalld"}, {"firewall-cmd", "firewalld"}, {"ipset", "ipset"}, {"iptables", "iptables"},
}

// Instance is one running firewalld.
type Instance struct {
	// NS is the network namespace firewalld runs in.
	NS string
	// Bus is the D-Bus address of the private system bus
	// (DBUS_SYSTEM_BUS_ADDRESS).
	Bus string
	// Dir holds the bus socket, firewalld's configuration and its log.
	Dir string

	bus, fwd *exec.Cmd
	fwdLog   *lockedBuffer
	fwdDone  chan struct{}
	busDone  chan struct{}
	stopOnce sync.Once
}

// Missing reports why Launch cannot work here ("" when it can): not root,
// or a tool missing.
func Missing() string {
	if os.Geteuid() != 0 {
		return "needs root for a network namespace and firewalld"
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t[0]); err != nil {
			return fmt.Sprintf("needs %s (Debian package %s)", t[0], t[1])
		}
	}
	return ""
}

// Launch starts the bus and firewalld in a new namespace, using dir for
// their files, and returns once firewalld answers `firewall-cmd --state`.
// The caller must Stop the instance.
func Launch(ctx context.Context, dir string) (_ *Instance, err error) {
	if why := Missing(); why != "" {
		return nil, errors.New(why)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	in := &Instance{
		NS: "warden-fwd-" + hex.EncodeToString(rnd[:]), Dir: dir, fwdLog: &lockedBuffer{},
		busDone: make(chan struct{}),
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", in.NS).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("fwdtest: ip netns add: %w: %s", err, out)
	}
	defer func() {
		if err != nil {
			in.Stop()
		}
	}()
	sock := filepath.Join(dir, "system_bus_socket")
	in.Bus = "unix:path=" + sock
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, busConfig, sock), 0o600); err != nil {
		return nil, fmt.Errorf("fwdtest: %w", err)
	}
	in.bus = exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile", "--nosyslog")
	busLog := &lockedBuffer{}
	in.bus.Stdout, in.bus.Stderr = busLog, busLog
	if err := in.bus.Start(); err != nil {
		close(in.busDone)
		return nil, fmt.Errorf("fwdtest: dbus-daemon: %w", err)
	}
	go func() { _ = in.bus.Wait(); close(in.busDone) }()
	if err := waitFor(ctx, 10*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }); err != nil {
		return nil, fmt.Errorf("fwdtest: dbus-daemon socket: %w; log: %s", err, busLog)
	}

	etc := filepath.Join(dir, "firewalld")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return nil, fmt.Errorf("fwdtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(etc, "firewalld.conf"), []byte(firewalldConf), 0o644); err != nil {
		return nil, fmt.Errorf("fwdtest: %w", err)
	}
	if err := in.startFirewalld(ctx); err != nil {
		return nil, err
	}
	return in, nil
}

// startFirewalld starts firewalld in the namespace and waits until it
// answers.
func (in *Instance) startFirewalld(ctx context.Context) error {
	in.fwd = exec.Command("ip", "netns", "exec", in.NS, "firewalld", "--nofork", "--nopid",
		"--system-config", filepath.Join(in.Dir, "firewalld"), "--log-target", "console")
	in.fwd.Env = in.Env()
	in.fwd.Stdout, in.fwd.Stderr = in.fwdLog, in.fwdLog
	in.fwdDone = make(chan struct{})
	if err := in.fwd.Start(); err != nil {
		close(in.fwdDone)
		return fmt.Errorf("fwdtest: firewalld: %w", err)
	}
	done := in.fwdDone
	go func() { _ = in.fwd.Wait(); close(done) }()
	err := waitFor(ctx, 60*time.Second, func() bool {
		select {
		case <-in.fwdDone:
			return true
		default:
		}
		out, err := in.Command(ctx, "firewall-cmd", "--state").CombinedOutput()
		return err == nil && strings.TrimSpace(string(out)) == "running"
	})
	select {
	case <-in.fwdDone:
		return fmt.Errorf("fwdtest: firewalld exited during start-up; log:\n%s", in.fwdLog)
	default:
	}
	if err != nil {
		return fmt.Errorf("fwdtest: firewalld not running: %w; log:\n%s", err, in.fwdLog)
	}
	return nil
}

// StopFirewalld stops firewalld and leaves the bus running.
func (in *Instance) StopFirewalld() {
	stopProcess(in.fwd.Process, in.fwdDone)
}

// RestartFirewalld stops firewalld (which removes its runtime rules) and
// starts it again on the same bus and namespace, as `systemctl restart
// firewalld` would.
func (in *Instance) RestartFirewalld(ctx context.Context) error {
	stopProcess(in.fwd.Process, in.fwdDone)
	return in.startFirewalld(ctx)
}

// Start launches an instance for one test (or benchmark) and stops it when
// the test ends; it skips the test when Missing reports a reason.
func Start(tb testing.TB) *Instance {
	tb.Helper()
	if why := Missing(); why != "" {
		tb.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	in, err := Launch(ctx, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		in.Stop()
		if tb.Failed() {
			tb.Logf("firewalld log:\n%s", in.Log())
		}
	})
	return in
}

// Env returns the process environment with DBUS_SYSTEM_BUS_ADDRESS set to
// the instance's bus.
func (in *Instance) Env() []string {
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DBUS_SYSTEM_BUS_ADDRESS=") {
			env = append(env, kv)
		}
	}
	return append(env, "DBUS_SYSTEM_BUS_ADDRESS="+in.Bus)
}

// Command prepares name args to run inside the namespace with the bus in
// its environment.
func (in *Instance) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", in.NS, name}, args...)...)
	c.Env = in.Env()
	return c
}

// Run runs name args inside the namespace and returns its combined output,
// failing the test on error.
func (in *Instance) Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := in.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Log returns what firewalld has logged so far.
func (in *Instance) Log() string { return in.fwdLog.String() }

// Stop ends firewalld and the bus and deletes the namespace. It is safe to
// call more than once.
func (in *Instance) Stop() {
	in.stopOnce.Do(func() {
		if in.fwd != nil && in.fwd.Process != nil {
			stopProcess(in.fwd.Process, in.fwdDone)
		}
		if in.bus != nil && in.bus.Process != nil {
			stopProcess(in.bus.Process, in.busDone)
		}
		_ = exec.Command("ip", "netns", "del", in.NS).Run()
	})
}

// stopProcess sends SIGTERM, and SIGKILL when p has not ended after five
// seconds.
func stopProcess(p *os.Process, done <-chan struct{}) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.Kill()
		<-done
	}
}

func waitFor(ctx context.Context, limit time.Duration, ok func() bool) error {
	end := time.Now().Add(limit)
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, 250*time.Millisecond) {
		if ok() {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("not ready after %v", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// lockedBuffer collects a child's output for the test to read.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
