package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"syscall"
	"time"
)

// ServeOptions tune Serve. Zero fields take the defaults given.
type ServeOptions struct {
	// ReadTimeout bounds the wait for a whole request line, counted from
	// the end of the previous answer (default 10 s). A client that stays
	// silent that long is disconnected.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one answer (default 10 s).
	WriteTimeout time.Duration
	// MaxMessage caps one request line in bytes (default DefaultMaxMessage).
	MaxMessage int
	// MaxConns caps the connections served at once (default 32).
	MaxConns int
	// AllowUIDs are the peer user ids served on a Unix socket; nil means
	// root and the daemon's own user. Peers whose credentials cannot be
	// read (other socket kinds) are served.
	AllowUIDs []uint32
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger
}

func (o ServeOptions) withDefaults() ServeOptions {
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxMessage
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 32
	}
	if o.AllowUIDs == nil {
		o.AllowUIDs = []uint32{0, uint32(os.Getuid())}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Listen opens the control socket at path: it creates a missing parent
// directory (mode 0700), removes a stale socket file nobody answers on,
// refuses a path that is not a socket or that a live process answers on,
// and leaves the new socket with mode 0600. Closing the listener removes
// the socket file.
func Listen(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("control socket %s: exists and is not a socket; not removing it", path)
		}
		c, derr := net.DialTimeout("unix", path, time.Second)
		if derr == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: %w", path, ErrInUse)
		}
		if !errors.Is(derr, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("control socket %s: probing existing socket: %w", path, derr)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: removing stale socket: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return ln, nil
}

// ErrInUse means another process answers on the control socket.
var ErrInUse = errors.New("in use by a running process")

// Serve accepts connections on ln and answers their requests with h until
// ctx is cancelled or ln fails. On return ln is closed, every connection
// is closed and every connection goroutine has finished. It returns nil
// after cancellation, the accept error otherwise.
func Serve(ctx context.Context, ln net.Listener, h Handler, opts ServeOptions) error {
	opts = opts.withDefaults()
	s := &server{h: h, opts: opts, conns: make(map[net.Conn]struct{})}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	stopped := make(chan struct{})
	go func() {
		<-ctx.Done()
		ln.Close()
		s.closeAll()
		close(stopped)
	}()

	sem := make(chan struct{}, opts.MaxConns)
	var err error
	var backoff time.Duration
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() != nil {
				break
			}
			if retryable(aerr) {
				// Out of descriptors or similar: wait rather than spin or quit.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				opts.Logger.Warn("control accept failed, retrying", "err", aerr, "in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-ctx.Done():
				}
				break
			}
			err = fmt.Errorf("control: accept: %w", aerr)
			break
		}
		backoff = 0
		select {
		case sem <- struct{}{}:
		default:
			s.refuse(c, &Error{Code: CodeBusy, Msg: fmt.Sprintf("server busy: %d connections open", opts.MaxConns)})
			continue
		}
		if !s.track(c) {
			c.Close()
			<-sem
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer s.untrack(c)
			s.serveConn(ctx, c)
		}()
	}
	cancel()
	<-stopped
	wg.Wait()
	return err
}

// retryable reports accept errors that pass: descriptor exhaustion,
// memory pressure, a peer that gave up before being accepted.
func retryable(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

type server struct {
	h    Handler
	opts ServeOptions

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (s *server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
}

// refuse answers a connection that will not be served, then closes it.
func (s *server) refuse(c net.Conn, e *Error) {
	_ = c.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	_ = writeMessage(c, Response{Version: ProtocolVersion, Error: e})
	c.Close()
}

// peerAllowed checks a Unix peer's uid against AllowUIDs.
func (s *server) peerAllowed(c net.Conn) (bool, uint32) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return true, 0
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return true, 0
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return true, 0
	}
	return slices.Contains(s.opts.AllowUIDs, cred.Uid), cred.Uid
}

func (s *server) serveConn(ctx context.Context, c net.Conn) {
	log := s.opts.Logger
	if ok, uid := s.peerAllowed(c); !ok {
		log.Warn("control connection refused", "uid", uid)
		s.refuse(c, &Error{Code: CodeDenied, Msg: fmt.Sprintf("user id %d may not use the control socket", uid)})
		return
	}
	br := bufio.NewReaderSize(c, 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.opts.ReadTimeout))
		line, err := ReadFrame(br, s.opts.MaxMessage)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return
		case errors.Is(err, ErrTooLarge):
			log.Warn("control request too large", "max", s.opts.MaxMessage)
			s.refuse(c, errorFor(err))
			return
		case errors.Is(err, io.ErrUnexpectedEOF):
			// The peer closed its side mid-line; it may still read.
			s.refuse(c, &Error{Code: CodeBadRequest, Msg: "incomplete request: " + err.Error()})
			return
		default:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				log.Debug("control connection idle, closing", "timeout", s.opts.ReadTimeout)
			}
			return
		}
		if len(line) == 0 {
			continue
		}
		resp := s.answer(ctx, line)
		_ = c.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		if err := writeMessage(c, resp); err != nil {
			log.Debug("control write failed", "err", err)
			return
		}
	}
}

// answer decodes, dispatches and encodes one request.
func (s *server) answer(ctx context.Context, line []byte) Response {
	req, err := DecodeRequest(line)
	resp := Response{Version: ProtocolVersion, ID: req.ID}
	if err != nil {
		resp.Error = errorFor(err)
		return resp
	}
	result, err := s.run(ctx, req.Command)
	if err != nil {
		resp.Error = errorFor(err)
		return resp
	}
	b, err := json.Marshal(result)
	if err != nil {
		resp.Error = &Error{Code: CodeInternal, Msg: "encode result: " + err.Error()}
		return resp
	}
	resp.OK, resp.Result = true, b
	return resp
}

// run parses words and calls the Handler, turning a panic into an error.
func (s *server) run(ctx context.Context, words []string) (result any, err error) {
	cmd, err := ParseCommand(words)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			s.opts.Logger.Error("control handler panicked", "command", cmd.Name, "panic", p, "stack", string(debug.Stack()))
			result, err = nil, fmt.Errorf("%w: handler failed on %s", ErrInternal, cmd.Name)
		}
	}()
	return Dispatch(ctx, s.h, cmd)
}

// Dispatch runs a parsed command on h and returns the value sent as the
// result.
func Dispatch(ctx context.Context, h Handler, c Command) (any, error) {
	switch c.Name {
	case "ping":
		if err := h.Ping(ctx); err != nil {
			return nil, err
		}
		return "pong", nil
	case "version":
		return h.Version(ctx)
	case "status":
		switch {
		case c.Firewall:
			return firewallStatus(ctx, h)
		case c.All:
			return statusAll(ctx, h, c.Flavor)
		case c.Jail != "":
			return h.JailStatus(ctx, c.Jail, flavorOr(c.Flavor))
		default:
			return h.Status(ctx)
		}
	case "stats":
		return h.Stats(ctx)
	case "banned":
		return h.Banned(ctx, c.IPs)
	case "banip":
		return h.BanIP(ctx, c.Jail, c.IPs)
	case "unbanip":
		return h.UnbanIP(ctx, c.Jail, c.IPs, c.ReportAbsent)
	case "unban":
		return h.Unban(ctx, c.IPs, c.All)
	case "get":
		return h.Get(ctx, c.Jail, c.Option, c.Args)
	case "set":
		return h.Set(ctx, c.Jail, c.Option, c.Args)
	case "reload":
		if err := h.Reload(ctx, c.Reload); err != nil {
			return nil, err
		}
		return "OK", nil
	case "start":
		return nil, h.Start(ctx, c.Jail)
	case "stop":
		return nil, h.Stop(ctx, c.Jail)
	case "flushlogs":
		return h.FlushLogs(ctx)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownCommand, c.Name)
}

func flavorOr(f Flavor) Flavor {
	if f == "" {
		return FlavorBasic
	}
	return f
}

func statusAll(ctx context.Context, h Handler, f Flavor) (AllStatus, error) {
	st, err := h.Status(ctx)
	if err != nil {
		return AllStatus{}, err
	}
	all := AllStatus{Server: st, Jails: make([]JailStatus, 0, len(st.Jails))}
	for _, j := range st.Jails {
		js, err := h.JailStatus(ctx, j, flavorOr(f))
		if errors.Is(err, ErrUnknownJail) {
			continue // stopped between the two calls
		}
		if err != nil {
			return AllStatus{}, err
		}
		all.Jails = append(all.Jails, js)
	}
	return all, nil
}
