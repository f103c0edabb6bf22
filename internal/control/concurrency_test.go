package control

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestConcurrentClients runs several connections at once, and several
// goroutines on one Client, against the same handler.
func TestConcurrentClients(t *testing.T) {
	f := newFakeHandler()
	path := startServer(t, f, ServeOptions{})
	ctx := testCtx(t)
	shared := dial(t, path)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := dial(t, path)
			for i := range each {
				c := own
				if i%2 == 1 {
					c = shared
				}
				a := netip.AddrFrom4([4]byte{10, 1, byte(w), byte(i)})
				if n, err := c.BanIP(ctx, "sshd", a); err != nil || n != 1 {
					errs <- fmt.Errorf("worker %d ban %s: %d, %w", w, a, n, err)
					return
				}
				if _, err := c.JailStatus(ctx, "sshd", FlavorShort); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	js, err := shared.JailStatus(ctx, "sshd", FlavorShort)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + workers*each; js.CurrentlyBanned != want {
		t.Errorf("currently banned %d, want %d", js.CurrentlyBanned, want)
	}
}

// flakyListener fails its first Accepts with EMFILE, as a daemon out of
// file descriptors sees.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func TestAcceptErrorsAreRetried(t *testing.T) {
	dir, err := os.MkdirTemp("", "wctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "f.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: ln, fails: 3}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, fl, newFakeHandler(), ServeOptions{}) }()
	c := dial(t, path)
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatalf("ping after transient accept errors: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
}
