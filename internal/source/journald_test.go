package source

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"warden/internal/journaldtest"
)

// journaldState says whether a journald is there for the journal tests.
// TestMain sets it once, before any test runs.
var journaldState struct {
	ok     bool
	reason string
}

func TestMain(m *testing.M) {
	stop, reason := journaldtest.Start()
	journaldState.ok, journaldState.reason = reason == "", reason
	code := m.Run()
	stop()
	os.Exit(code)
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
	if err := journaldtest.Write(ident, text); err != nil {
		t.Fatal(err)
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
