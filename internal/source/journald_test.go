package source

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// journaldState says whether a journald is there for the journal tests.
// TestMain sets it once, before any test runs.
var journaldState struct {
	ok     bool
	reason string
}

// journaldLock is held shared by every test process using the journald;
// the one that started it stops it only if it can then take the lock
// exclusively, that is when no other test process (say a concurrent
// "go test ./...") still uses it.
const journaldLock = "/run/warden-test-journald.lock"

func TestMain(m *testing.M) {
	lock, err := os.OpenFile(journaldLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_SH)
	}
	stop := startJournald()
	code := m.Run()
	if lock == nil || syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		stop()
	}
	if lock != nil {
		lock.Close()
	}
	os.Exit(code)
}

// startJournald makes sure a systemd-journald accepts and serves entries,
// starting a standalone one when none does; the returned func stops it
// again if this process started it.
func startJournald() (stop func()) {
	stop = func() {}
	if _, err := exec.LookPath("journalctl"); err != nil {
		journaldState.reason = "journalctl not installed"
		return stop
	}
	if journaldWorks() {
		journaldState.ok = true
		return stop
	}
	const bin = "/lib/systemd/systemd-journald"
	if _, err := os.Stat(bin); err != nil {
		journaldState.reason = "no running journald and " + bin + " missing"
		return stop
	}
	cmd := exec.Command(bin)
	if err := cmd.Start(); err != nil {
		journaldState.reason = "cannot start journald: " + err.Error()
		return stop
	}
	stop = func() {
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
	for range 50 {
		if journaldWorks() {
			journaldState.ok = true
			return stop
		}
		time.Sleep(50 * time.Millisecond)
	}
	journaldState.reason = "started journald does not serve entries"
	return stop
}

// journaldWorks writes a probe entry and reads it back.
func journaldWorks() bool {
	if _, err := os.Stat("/run/systemd/journal/socket"); err != nil {
		return false
	}
	id := fmt.Sprintf("warden-probe-%d-%d", os.Getpid(), time.Now().UnixNano())
	w := exec.Command("systemd-cat", "-t", id)
	w.Stdin = strings.NewReader("probe\n")
	if w.Run() != nil {
		return false
	}
	for range 20 {
		out, err := exec.Command("journalctl", "--system", "-q", "-o", "cat", "SYSLOG_IDENTIFIER="+id).Output()
		if err == nil && strings.Contains(string(out), "probe") {
			return true
		}
		time.Sleep(25 * time.Millisecond)
	}
	return false
}

func needJournald(t *testing.T) {
	t.Helper()
	if !journaldState.ok {
		t.Skip("no systemd-journald: " + journaldState.reason)
	}
}

// jwrite logs lines to the journal under an identifier, as a daemon would.
func jwrite(t *testing.T, ident, text string) {
	t.Helper()
	cmd := exec.Command("systemd-cat", "-t", ident)
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-cat: %v: %s", err, out)
	}
}

// uniqueIdent is a syslog identifier no other test run uses.
func uniqueIdent(t *testing.T, tag string) string {
	return fmt.Sprintf("wt%s-%d-%d", tag, os.Getpid(), time.Now().UnixNano()%1e9)
}

// memCursors is an in-memory Cursors.
type memCursors struct {
	mu    sync.Mutex
	c     string
	saves int
}

func (m *memCursors) Load(context.Context) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, m.c != "", nil
}

func (m *memCursors) Save(_ context.Context, c string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c = c
	m.saves++
	return nil
}

func (m *memCursors) get() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c
}
