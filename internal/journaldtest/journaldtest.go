// Package journaldtest gives tests a systemd-journald that accepts and
// serves entries: the running one, or a standalone one it starts. Test
// processes running at the same time (go test ./... runs packages in
// parallel) share it through a lock file; the process that started it stops
// it only when no other still holds the lock.
package journaldtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// lockPath is held shared by every test process using the journald.
const lockPath = "/run/warden-test-journald.lock"

// binary is Debian's journald, runnable outside systemd.
const binary = "/lib/systemd/systemd-journald"

// Start makes sure a journald serves entries. reason is empty when one
// does, and otherwise says why not (for t.Skip). stop is never nil: it
// releases this process's share of the lock and stops the journald Start
// started, unless another test process still uses it.
func Start() (stop func(), reason string) {
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_SH)
	}
	var cmd *exec.Cmd
	stop = func() {
		if cmd != nil && (lock == nil || syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil) {
			terminate(cmd)
		}
		if lock != nil {
			lock.Close()
		}
	}
	if _, err := exec.LookPath("journalctl"); err != nil {
		return stop, "journalctl not installed (Debian package systemd)"
	}
	if Works() {
		return stop, ""
	}
	if _, err := os.Stat(binary); err != nil {
		return stop, "no running journald and " + binary + " missing"
	}
	c := exec.Command(binary)
	if err := c.Start(); err != nil {
		return stop, "cannot start journald: " + err.Error()
	}
	cmd = c
	for range 50 {
		if Works() {
			return stop, ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	return stop, "the journald started does not serve entries"
}

// terminate stops a journald, killing it after 3 s.
func terminate(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Works writes a probe entry and reports whether it can be read back.
func Works() bool {
	if _, err := os.Stat("/run/systemd/journal/socket"); err != nil {
		return false
	}
	id := fmt.Sprintf("warden-probe-%d-%d", os.Getpid(), time.Now().UnixNano())
	if Write(id, "probe\n") != nil {
		return false
	}
	return Has(id, 1)
}

// Write logs text (lines) to the journal under a syslog identifier, as a
// daemon would, with systemd-cat.
func Write(ident, text string) error {
	cmd := exec.Command("systemd-cat", "-t", ident)
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("systemd-cat: %w: %s", err, out)
	}
	return nil
}

// Has waits up to about a second until at least n entries of ident are
// readable.
func Has(ident string, n int) bool {
	for range 40 {
		out, err := exec.Command("journalctl", "--system", "-q", "-o", "cat", "SYSLOG_IDENTIFIER="+ident).Output()
		if err == nil && strings.Count(string(out), "\n") >= n {
			return true
		}
		time.Sleep(25 * time.Millisecond)
	}
	return false
}
