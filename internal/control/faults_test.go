package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawConn is a test peer that writes raw bytes and reads raw answers.
type rawConn struct {
	t  *testing.T
	c  *net.UnixConn
	br *bufio.Reader
}

func rawDial(t *testing.T, path string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c.(*net.UnixConn), br: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// answer reads one response line; it fails the test on EOF.
func (r *rawConn) answer() Response {
	r.t.Helper()
	line, err := ReadFrame(r.br, DefaultMaxMessage)
	if err != nil {
		r.t.Fatalf("reading answer: %v", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		r.t.Fatalf("answer %q is not JSON: %v", line, err)
	}
	return resp
}

// closed reports whether the server closed the connection (EOF next).
func (r *rawConn) closed() bool {
	_, err := r.br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func wantCode(t *testing.T, resp Response, code Code) {
	t.Helper()
	if resp.OK || resp.Error == nil || resp.Error.Code != code {
		t.Fatalf("answer %+v (error %+v), want code %s", resp, resp.Error, code)
	}
	if resp.Error.Msg == "" {
		t.Errorf("error %s has no message", code)
	}
}

func TestMalformedRequests(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		code   Code
		wantID uint64
	}{
		{"not JSON", "{not json", CodeBadRequest, 0},
		{"JSON array", `["ping"]`, CodeBadRequest, 0},
		{"wrong type for command", `{"version":1,"id":4,"command":"ping"}`, CodeBadRequest, 4},
		{"trailing data", `{"version":1,"id":5,"command":["ping"]} {}`, CodeBadRequest, 5},
		{"missing version", `{"id":6,"command":["ping"]}`, CodeBadVersion, 6},
		{"future version", `{"version":2,"id":7,"command":["ping"]}`, CodeBadVersion, 7},
		{"empty command", `{"version":1,"id":8,"command":[]}`, CodeBadRequest, 8},
		{"empty name", `{"version":1,"id":9,"command":[""]}`, CodeBadRequest, 9},
		{"unknown command", `{"version":1,"id":10,"command":["frobnicate"]}`, CodeUnknownCommand, 10},
		{"malformed address", `{"version":1,"id":11,"command":["unban","10.0.0.256"]}`, CodeBadAddress, 11},
		{"binary garbage", "\x00\xff\xfe{{{", CodeBadRequest, 0},
	}
	path := startServer(t, newFakeHandler(), ServeOptions{})
	r := rawDial(t, path)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.t = t
			r.send(tt.line + "\n")
			resp := r.answer()
			wantCode(t, resp, tt.code)
			if resp.ID != tt.wantID {
				t.Errorf("id %d, want %d", resp.ID, tt.wantID)
			}
			// The same connection still serves a good request.
			r.send(`{"version":1,"id":99,"command":["ping"]}` + "\n")
			if resp := r.answer(); !resp.OK || resp.ID != 99 || string(resp.Result) != `"pong"` {
				t.Errorf("ping after %s: %+v", tt.name, resp)
			}
		})
	}
}

func TestHalfMessageThenClose(t *testing.T) {
	path := startServer(t, newFakeHandler(), ServeOptions{})
	r := rawDial(t, path)
	r.send(`{"version":1,"id":3,"comm`)
	if err := r.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, r.answer(), CodeBadRequest)
	if !r.closed() {
		t.Error("connection still open after a half message")
	}
}

func TestSilentClientDropped(t *testing.T) {
	path := startServer(t, newFakeHandler(), ServeOptions{ReadTimeout: 100 * time.Millisecond})
	for _, tt := range []struct{ name, first string }{
		{"never speaks", ""},
		{"stops mid-line", `{"version":1,`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := rawDial(t, path)
			r.t = t
			start := time.Now()
			if tt.first != "" {
				r.send(tt.first)
			}
			if !r.closed() {
				t.Fatal("silent client not dropped")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("dropped after %v, want about 100ms", d)
			}
		})
	}
	// The server is still healthy.
	c := dial(t, path)
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestOversizedMessage(t *testing.T) {
	path := startServer(t, newFakeHandler(), ServeOptions{MaxMessage: 1024})
	r := rawDial(t, path)
	big := `{"version":1,"id":1,"command":["banned","` + strings.Repeat("1", 10000) + `"]}` + "\n"
	go func() { _, _ = io.WriteString(r.c, big) }() // the server stops reading early
	wantCode(t, r.answer(), CodeTooLarge)
	if !r.closed() {
		t.Error("connection still open after an oversized message")
	}
	// A request just under the cap is served.
	c := dial(t, path)
	words := []string{"get", "sshd", "banned"}
	for len(strings.Join(words, `","`)) < 900 {
		words = append(words, "192.0.2.1")
	}
	if _, err := c.Call(testCtx(t), words); err != nil {
		t.Errorf("request under the cap: %v", err)
	}
}

func TestBusyAndDenied(t *testing.T) {
	t.Run("busy", func(t *testing.T) {
		path := startServer(t, newFakeHandler(), ServeOptions{MaxConns: 1})
		first := dial(t, path)
		if err := first.Ping(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		r := rawDial(t, path)
		wantCode(t, r.answer(), CodeBusy)
		first.Close()
		// The slot is freed once the first connection is gone.
		deadline := time.Now().Add(5 * time.Second)
		for {
			c := dial(t, path)
			err := c.Ping(testCtx(t))
			if err == nil {
				break
			}
			if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
				t.Fatalf("ping after the first client left: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("denied", func(t *testing.T) {
		path := startServer(t, newFakeHandler(), ServeOptions{AllowUIDs: []uint32{uint32(os.Getuid()) + 4242}})
		err := dial(t, path).Ping(testCtx(t))
		if !errors.Is(err, ErrDenied) {
			t.Fatalf("ping from a disallowed uid: err = %v, want ErrDenied", err)
		}
	})
}

func TestListen(t *testing.T) {
	dir, err := os.MkdirTemp("", "wctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	t.Run("mode and parent", func(t *testing.T) {
		path := filepath.Join(dir, "new", "a.sock")
		ln, err := Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
			t.Errorf("socket mode %v, want socket 0600", fi.Mode())
		}
		if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
			t.Errorf("created directory mode %v, want 0700", di.Mode().Perm())
		}
		// A second daemon must not steal a live socket.
		if _, err := Listen(path); !errors.Is(err, ErrInUse) {
			t.Errorf("Listen on a live socket: err = %v, want ErrInUse", err)
		}
	})
	t.Run("stale socket", func(t *testing.T) {
		path := filepath.Join(dir, "stale.sock")
		old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		old.SetUnlinkOnClose(false)
		old.Close() // the file stays, nobody listens: a crashed daemon
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("setup: stale socket missing: %v", err)
		}
		ln, err := Listen(path)
		if err != nil {
			t.Fatalf("Listen over a stale socket: %v", err)
		}
		ln.Close()
	})
	t.Run("not a socket", func(t *testing.T) {
		path := filepath.Join(dir, "file.sock")
		if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("Listen over a regular file: err = %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "keep me" {
			t.Error("Listen clobbered a regular file")
		}
	})
}

func TestServeStopsOnCancel(t *testing.T) {
	dir, err := os.MkdirTemp("", "wctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := Listen(filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, newFakeHandler(), ServeOptions{}) }()
	r := rawDial(t, filepath.Join(dir, "s.sock")) // an idle connection must not hold Serve up
	r.send(`{"version":1,"id":1,"command":["ping"]}` + "\n")
	if resp := r.answer(); !resp.OK {
		t.Fatalf("ping: %+v", resp)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return with an idle connection open")
	}
	if !r.closed() {
		t.Error("idle connection still open after shutdown")
	}
}

func TestClientContextDeadline(t *testing.T) {
	// A server that accepts and never answers.
	dir, err := os.MkdirTemp("", "wctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := Listen(filepath.Join(dir, "mute.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	c := dial(t, filepath.Join(dir, "mute.sock"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping against a mute server: err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Ping took %v despite a 100ms deadline", d)
	}
}

// TestClientUnusableAfterAbort checks that a call abandoned mid-way does not
// leave its late answer to be read as the next call's.
func TestClientUnusableAfterAbort(t *testing.T) {
	path := startServer(t, slowHandler{newFakeHandler()}, ServeOptions{})
	c := dial(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Version(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow Version: err = %v, want deadline exceeded", err)
	}
	if err := c.Ping(testCtx(t)); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Errorf("Ping on an aborted client: err = %v, want it refused", err)
	}
	if err := dial(t, path).Ping(testCtx(t)); err != nil {
		t.Errorf("a fresh client: %v", err)
	}
}

// slowHandler answers Version after 300ms.
type slowHandler struct{ *fakeHandler }

func (h slowHandler) Version(ctx context.Context) (string, error) {
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
	}
	return "slow", nil
}
