package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// needFail2ban skips the test unless fail2ban's configuration holds every
// file named (relative to /etc/fail2ban, such as "filter.d/sshd.conf").
func needFail2ban(t *testing.T, files ...string) {
	t.Helper()
	for _, f := range files {
		if _, err := os.Stat(filepath.Join("/etc/fail2ban", f)); err != nil {
			t.Skipf("needs fail2ban's configuration: %v", err)
		}
	}
}

// writeConfDir makes dir/conf, a configuration directory with fail2ban's
// filter.d and action.d linked in and jail.conf and fail2ban.conf holding
// the texts given, and returns its path.
func writeConfDir(t *testing.T, dir, jailConf, mainConf string) string {
	t.Helper()
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"filter.d", "action.d"} {
		if err := os.Symlink("/etc/fail2ban/"+sub, filepath.Join(conf, sub)); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range map[string]string{"jail.conf": jailConf, "fail2ban.conf": mainConf} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return conf
}

// appendLines appends text to the file at path, creating it if need be.
func appendLines(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// sshdFailures is count sshdFailure lines of addr, numbered from seq.
func sshdFailures(addr string, count, seq int) string {
	var b strings.Builder
	for i := range count {
		b.WriteString(sshdFailure(addr, seq+i))
	}
	return b.String()
}

// listenInNetns opens a TCP listener inside the named network namespace,
// closed at the end of the test: a locked thread enters the namespace,
// listens and is then discarded with its goroutine (the socket keeps its
// namespace).
func listenInNetns(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	type res struct {
		ln  net.Listener
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{err: fmt.Errorf("setns: %w", err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		ch <- res{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, ns, r.err)
	}
	t.Cleanup(func() { r.ln.Close() })
	return r.ln
}

// listenTCP22 runs a TCP listener (nc) on the server address, port 22, in
// the server namespace until the test ends, and waits until probe, an
// address of the client namespace, connects.
func listenTCP22(t *testing.T, n sshdNet, probe string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.server, "nc", "-l", "-k", sshdServerAddr, "22")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	waitFor(t, "port 22 listens", func() bool { return canConnect(n, probe) })
}
