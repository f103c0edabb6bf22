package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"
)

// TestRotationDuringFlood is acceptance test 4 of issue 3: a writer
// appends failure lines for many addresses while the test rotates the log
// several times, by rename and create and by copytruncate, with the
// polling and the inotify backends. Half of the addresses fail exactly
// maxretry times and half maxretry-1 times, so one line lost or read twice
// changes who is banned; at the end exactly the first half is banned and
// the jail's total equals the lines written.
func TestRotationDuringFlood(t *testing.T) {
	const (
		maxretry  = 3
		addrs     = 300 // half banned, half one failure short
		rotations = 4
	)
	if testing.Short() {
		t.Skip("floods of a few seconds each: not in -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	bin := buildWarden(t)
	for _, kind := range []string{"rename", "copytruncate"} {
		for _, backend := range []string{"polling", "pyinotify"} {
			t.Run(kind+"/"+backend, func(t *testing.T) {
				t.Parallel() // each in its own namespace; mostly waiting
				ns := newNetns(t)
				dir := t.TempDir()
				logPath := emptyLog(t, dir)
				conf := sshdJailDir(t, dir, logPath, "backend = "+backend+"\n")
				srv := launchWarden(t, bin, ns, conf, dir)

				// The lines: address i fails maxretry times when i is even,
				// maxretry-1 times when odd, in a shuffled order.
				addr := func(i int) string { return fmt.Sprintf("10.9.%d.%d", i/200, i%200+1) }
				var lines []string
				for i := range addrs {
					for range maxretry - i%2 {
						lines = append(lines, addr(i))
					}
				}
				rng := rand.New(rand.NewPCG(4, uint64(len(kind)+len(backend))))
				rng.Shuffle(len(lines), func(a, b int) { lines[a], lines[b] = lines[b], lines[a] })

				w := &floodWriter{path: logPath}
				if err := w.open(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- w.flood(lines, 4*time.Millisecond) }()
				for r := 1; r <= rotations; r++ {
					// Rotate when the writer is r/(rotations+1) of the way.
					for w.count() < r*len(lines)/(rotations+1) {
						time.Sleep(5 * time.Millisecond)
					}
					rotated := fmt.Sprintf("%s.%d", logPath, r)
					if kind == "rename" {
						before, err := w.renameCreate(rotated)
						if err != nil {
							t.Fatal(err)
						}
						// More than the old file held counted: the server
						// reads the new file; only then the next rotation
						// (logrotate does not rotate faster than a poll).
						waitTotal(t, srv, func(n int) bool { return n > before })
					} else {
						if err := w.copyTruncate(rotated, func(written int) {
							// Lines not read before the truncation live
							// only in the copy, for any reader: wait until
							// the server has read all of them.
							waitTotal(t, srv, func(n int) bool { return n == written })
						}); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				w.close()
				waitTotal(t, srv, func(n int) bool { return n >= len(lines) })
				time.Sleep(1200 * time.Millisecond) // a poll more, for lines read twice to show
				st, err := srv.status("sshd")
				if err != nil {
					t.Fatal(err)
				}
				if st.TotalFailed != len(lines) || st.CurrentlyBanned != addrs/2 || st.TotalBanned != addrs/2 || st.CurrentlyFailed != addrs/2 {
					t.Errorf("status: %+v; want %d failures, %d banned, %d failing", st, len(lines), addrs/2, addrs/2)
				}
				elems, n := setElements(t, ns, "addr4-sshd")
				if n != addrs/2 {
					t.Errorf("kernel set holds %d elements, want %d", n, addrs/2)
				}
				for i := range addrs {
					if want := 1 - i%2; elems[addr(i)] != want {
						t.Errorf("%s (%d failures) is in the kernel set %d times, want %d", addr(i), maxretry-i%2, elems[addr(i)], want)
					}
				}
				srv.stop()
			})
		}
	}
}

// waitTotal waits until the jail's total of failures satisfies ok.
func waitTotal(t *testing.T, srv *wardenProc, ok func(int) bool) {
	t.Helper()
	waitLong(t, 10*time.Second, "the jail's total failures", func() (bool, string) {
		st, err := srv.status("sshd")
		return err == nil && ok(st.TotalFailed), fmt.Sprintf("%+v %v", st, err)
	})
}

// floodWriter appends sshd failure lines to a log, one write per line, as
// a syslog daemon does, while the test rotates the file under it.
type floodWriter struct {
	path    string
	mu      sync.Mutex // guards f and written
	f       *os.File
	written int
}

func (w *floodWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	w.f = f
	return nil
}

func (w *floodWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.f.Close()
}

func (w *floodWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

// flood writes one failure line for each address in addrs, pausing every
// few lines.
func (w *floodWriter) flood(addrs []string, pause time.Duration) error {
	for i, a := range addrs {
		w.mu.Lock()
		_, err := w.f.WriteString(sshdFailure(a, i))
		if err == nil {
			w.written++
		}
		w.mu.Unlock()
		if err != nil {
			return err
		}
		time.Sleep(pause)
	}
	return nil
}

// renameCreate moves the log to rotated and starts a new one, the writer
// switching to it at once; it returns the lines written before.
func (w *floodWriter) renameCreate(rotated string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := os.Rename(w.path, rotated); err != nil {
		return 0, err
	}
	_ = w.f.Close()
	return w.written, w.open()
}

// copyTruncate copies the log to rotated and truncates it in place while
// the writer waits; before runs first, with the lines written so far.
func (w *floodWriter) copyTruncate(rotated string, before func(written int)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	before(w.written)
	src, err := os.Open(w.path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(rotated)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return os.Truncate(w.path, 0)
}
