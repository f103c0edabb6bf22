package source

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// memPositions is an in-memory Positions.
type memPositions struct {
	mu    sync.Mutex
	m     map[string]Position
	saves int
}

func newMemPositions() *memPositions { return &memPositions{m: map[string]Position{}} }

func (p *memPositions) Load(_ context.Context, path string) (Position, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos, ok := p.m[path]
	return pos, ok, nil
}

func (p *memPositions) Save(_ context.Context, pos Position) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[pos.Path] = pos
	p.saves++
	return nil
}

func (p *memPositions) get(path string) (Position, bool) {
	pos, ok, _ := p.Load(context.Background(), path)
	return pos, ok
}

// collector runs a source and keeps what it sends.
type collector struct {
	mu       sync.Mutex
	lines    []Line
	cancel   context.CancelFunc
	done     chan error
	consumed chan struct{}
}

func start(t *testing.T, src Source) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	c := &collector{cancel: cancel, done: make(chan error, 1)}
	out := make(chan Line)
	runErr := make(chan error, 1)
	go func() { runErr <- src.Run(ctx, out) }()
	// The collector owns out: it closes it once Run has returned, and
	// reports Run's result after the last line is stored.
	go func() {
		err := <-runErr
		close(out)
		c.done <- err
	}()
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for l := range out {
			c.mu.Lock()
			c.lines = append(c.lines, l)
			c.mu.Unlock()
		}
	}()
	c.consumed = consumed
	t.Cleanup(func() { c.stop(t) })
	return c
}

// stop cancels the source and waits for Run to return.
func (c *collector) stop(t *testing.T) {
	t.Helper()
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.cancel = nil
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		<-c.consumed
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

func (c *collector) texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.lines))
	for i, l := range c.lines {
		out[i] = l.Text
	}
	return out
}

// waitCount waits until at least n lines arrived.
func (c *collector) waitCount(t *testing.T, n int) {
	t.Helper()
	waitFor(t, func() bool { return c.count() >= n }, func() string {
		return fmt.Sprintf("%d lines (have %d: %q)", n, c.count(), c.texts())
	})
}

// waitFor polls cond for up to 10s; what describes the wait on failure.
func waitFor(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// settle gives a source several poll intervals to (wrongly) emit something.
func settle() { time.Sleep(60 * time.Millisecond) }

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// modes are the two ways a file source learns of changes.
var modes = []Mode{ModePolling, ModeNotify}

// fileOpts returns fast options for tests. In notify mode the safety poll
// is slow, so notifications must do the work.
func fileOpts(mode Mode, specs ...FileSpec) FileOptions {
	o := FileOptions{
		Files: specs, Mode: mode,
		PollInterval: 5 * time.Millisecond, GlobInterval: 20 * time.Millisecond,
		SaveInterval: 10 * time.Millisecond, SafetyInterval: time.Hour,
	}
	return o
}

func newFileT(t *testing.T, o FileOptions) *File {
	t.Helper()
	f, err := NewFile(o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// testLogger logs through t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
