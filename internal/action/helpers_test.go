package action

import (
	"context"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/config"
)

const realTree = "/etc/fail2ban"

// recorder is a Runner that keeps the commands instead of running them.
type recorder struct {
	mu   sync.Mutex
	op   string // the operation under way, set by the test
	cmds []recorded
	// fails makes a script exit 1 so many times (-1: always).
	fails map[string]int
}

type recorded struct {
	op  string
	cmd Command
}

func (r *recorder) Run(_ context.Context, c Command, _ time.Duration) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, recorded{r.op, c})
	if n := r.fails[c.Script]; n != 0 {
		r.fails[c.Script] = n - 1
		return Result{ExitCode: 1}, nil
	}
	return Result{}, nil
}

// take returns the scripts recorded since the last take.
func (r *recorder) take() []string {
	s := r.scripts()
	r.mu.Lock()
	r.cmds = nil
	r.mu.Unlock()
	return s
}

func (r *recorder) scripts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.cmds {
		out = append(out, c.cmd.Script)
	}
	return out
}

// copyTree copies the installed fail2ban tree to a temporary directory and
// adds files (path relative to the tree -> content).
func copyTree(t testing.TB, files map[string]string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(realTree, "jail.conf")); err != nil {
		t.Skip("no fail2ban tree at", realTree)
	}
	dir := t.TempDir()
	err := filepath.WalkDir(realTree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(realTree, p)
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The installed jail.d (Debian enables sshd there) must not add to
	// what the test's jail.local says.
	os.RemoveAll(filepath.Join(dir, "jail.d"))
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadJail loads dir and returns the named jail.
func loadJail(t testing.TB, dir, jail string) *config.Jail {
	t.Helper()
	cfg, err := config.Load(os.DirFS(dir), config.Options{Root: dir, Jail: jail})
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	j := cfg.Jail(jail)
	if j == nil {
		t.Fatalf("jail %s not loaded", jail)
	}
	return j
}

// newTest builds an Action from an action.d text with a recorder.
// args, when set, are the jail's name[args] for it.
func newTest(t testing.TB, actionConf, args string, opts Options) (*Action, *recorder) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"action.d/wtest.conf": actionConf,
		"jail.conf":           "[wt]\nenabled = true\nlogpath = /dev/null\nbackend = polling\naction = wtest" + args + "\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j := loadJail(t, dir, "wt")
	rec := &recorder{}
	if opts.Runner == nil {
		opts.Runner = rec
	}
	opts.Jail = "wt"
	a, err := New(j.Actions[0], opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, rec
}

// testLogger logs into the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// newErr is New's error for an action.d text (loaded as newTest does).
func newErr(t *testing.T, actionConf string) error {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "action.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "action.d", "wtest.conf"), []byte(actionConf), 0o644)
	os.WriteFile(filepath.Join(dir, "jail.conf"), []byte("[wt]\nenabled = true\nlogpath = /dev/null\naction = wtest\n"), 0o644)
	cfg, err := config.Load(os.DirFS(dir), config.Options{Root: dir})
	if err != nil {
		return err
	}
	_, err = New(cfg.Jail("wt").Actions[0], Options{Runner: &recorder{}})
	return err
}
