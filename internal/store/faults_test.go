package store

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fault tests drive real failures: garbage files, a lock held by a
// second process, a read-only bind mount and a tiny tmpfs, the last two in
// a private mount namespace made with unshare(1) so the host is untouched.

const helperEnv = "WARDEN_STORE_HELPER"

func TestOpenCorruptFileIsMovedAside(t *testing.T) {
	// A valid database with some bans, to corrupt in the middle.
	validDB := func(t *testing.T) []byte {
		p := filepath.Join(t.TempDir(), "v.db")
		s, err := Open(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddBans(context.Background(), manyBans(2000)); err != nil {
			t.Fatal(err)
		}
		s.Close()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 8192)
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	tests := []struct {
		name    string
		content func(t *testing.T) []byte
	}{
		{"random bytes", func(*testing.T) []byte { return garbage }},
		{"text file", func(*testing.T) []byte { return []byte("this is not a database\n") }},
		{"header then garbage", func(*testing.T) []byte {
			return append([]byte("SQLite format 3\x00"), garbage...)
		}},
		{"pages overwritten", func(t *testing.T) []byte {
			b := validDB(t)
			if len(b) < 8*4096 {
				t.Fatalf("test database too small: %d bytes", len(b))
			}
			copy(b[3*4096:], garbage[:2*4096])
			return b
		}},
		{"truncated", func(t *testing.T) []byte {
			b := validDB(t)
			return b[:len(b)/2]
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "warden.db")
			bad := tc.content(t)
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			var logBuf bytes.Buffer
			now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
			s, err := Open(context.Background(), path, Options{
				Logger: slog.New(slog.NewTextHandler(&logBuf, nil)),
				Now:    func() time.Time { return now },
			})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			rec := s.Recovered()
			if rec == nil {
				t.Fatal("corrupt file not reported")
			}
			wantMoved := path + ".corrupt-20260304T050607Z"
			if rec.MovedTo != wantMoved || !errors.Is(rec, ErrCorrupt) {
				t.Fatalf("recovery %+v, want moved to %s and ErrCorrupt", rec, wantMoved)
			}
			kept, err := os.ReadFile(wantMoved)
			if err != nil || !bytes.Equal(kept, bad) {
				t.Fatalf("moved file differs from the corrupt one (err %v)", err)
			}
			if !strings.Contains(logBuf.String(), "level=ERROR") || !strings.Contains(logBuf.String(), wantMoved) {
				t.Fatalf("no error log line naming the moved file: %q", logBuf.String())
			}
			// The new database works.
			if err := s.AddBans(context.Background(), manyBans(3)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMoveAsideDoesNotOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warden.db")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var moved []string
	for i := range 3 {
		if err := os.WriteFile(path, []byte{byte(i)}, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+"-wal", []byte{byte(i)}, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := moveAside(path, now)
		if err != nil {
			t.Fatal(err)
		}
		moved = append(moved, m)
	}
	base := path + ".corrupt-20260102T030405Z"
	want := []string{base, base + "-1", base + "-2"}
	for i := range want {
		if moved[i] != want[i] {
			t.Fatalf("moved to %v, want %v", moved, want)
		}
		for _, f := range []string{want[i], want[i] + "-wal"} {
			if b, err := os.ReadFile(f); err != nil || len(b) != 1 || b[0] != byte(i) {
				t.Fatalf("%s: %v %v", f, b, err)
			}
		}
	}
}

func TestLockedByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	const busy = 200 * time.Millisecond
	s, err := Open(ctx, path, Options{BusyTimeout: busy})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=lock", "WARDEN_STORE_PATH="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()    //nolint:errcheck // checked below on the normal path
	defer stdin.Close() // lets the helper exit on any path
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper did not take the lock: %q %v", line, err)
	}

	start := time.Now()
	err = s.AddBans(ctx, manyBans(1))
	waited := time.Since(start)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("AddBans under a foreign lock = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the database: %v", err)
	}
	if waited < busy {
		t.Errorf("gave up after %v, before the busy timeout %v", waited, busy)
	}
	// Reads still work under WAL while another process writes.
	if _, err := s.BanHistory(ctx, pfx("192.0.2.1"), ""); err != nil {
		t.Errorf("read under a foreign write lock: %v", err)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if err := s.AddBans(ctx, manyBans(1)); err != nil {
		t.Fatalf("after the lock is released: %v", err)
	}
}

// runInMountNamespace runs TestHelperProcess in mode inside a private mount
// namespace on dir, skipping when namespaces are not available.
func runInMountNamespace(t *testing.T, mode, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private mount namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare(1) not installed")
	}
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("cannot make a mount namespace here: %v", err)
	}
	cmd := exec.Command("unshare", "-m", "--propagation", "private",
		os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "WARDEN_STORE_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("HELPER-OK")) {
		t.Fatalf("helper %s: %v\n%s", mode, err, out)
	}
	t.Logf("helper %s:\n%s", mode, out)
}

func TestReadOnlyMount(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), filepath.Join(dir, "warden.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	runInMountNamespace(t, "readonly", dir)
}

func TestDiskFull(t *testing.T) {
	runInMountNamespace(t, "full", t.TempDir())
}

// TestHelperProcess is not a test: the fault tests run the test binary
// again with helperEnv set, to act as another process or to run inside a
// mount namespace.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper for the fault tests")
	}
	var err error
	switch mode {
	case "lock":
		err = helperLock(os.Getenv("WARDEN_STORE_PATH"))
	case "readonly":
		err = helperReadOnly(os.Getenv("WARDEN_STORE_DIR"))
	case "full":
		err = helperFull(os.Getenv("WARDEN_STORE_DIR"))
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Println("HELPER-FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("HELPER-OK")
}

// helperLock holds an exclusive write transaction on path until stdin
// closes.
func helperLock(path string) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		return err
	}
	fmt.Println("locked")
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

func helperReadOnly(dir string) error {
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind mount: %w", err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("remount read-only: %w", err)
	}
	for _, name := range []string{"warden.db", "new.db"} {
		p := filepath.Join(dir, name)
		s, err := Open(context.Background(), p, Options{})
		if err == nil {
			s.Close()
			return fmt.Errorf("Open(%s) on a read-only mount succeeded", p)
		}
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), dir) {
			return fmt.Errorf("Open(%s) = %v, want ErrReadOnly naming the path", p, err)
		}
		fmt.Println("got expected error:", err)
	}
	return nil
}

func helperFull(dir string) error {
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=512k"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	ctx := context.Background()
	path := filepath.Join(dir, "warden.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	bans := manyBans(500)
	for i := range 100 {
		for j := range bans {
			bans[j].Count = i
			bans[j].Matches = []string{strings.Repeat("x", 500) + fmt.Sprint(i, j)}
		}
		err = s.AddBans(ctx, bans)
		if err != nil {
			break
		}
	}
	if err == nil {
		return errors.New("50,000 bans with long matches fit in 512 KiB")
	}
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), path) {
		return fmt.Errorf("AddBans on a full disk = %v, want ErrDiskFull naming %s", err, path)
	}
	fmt.Println("got expected error:", err)
	// What was committed before is still readable.
	if _, err := s.BanHistory(ctx, bans[0].Prefix, ""); err != nil {
		return fmt.Errorf("read after disk full: %w", err)
	}
	return nil
}
