package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"warden/internal/ban"
	"warden/internal/config"
	"warden/internal/control"
	"warden/internal/firewall"
	"warden/internal/firewall/nftables"
	"warden/internal/store"
)

// DefaultDB is the ban database used when neither Options.DBPath nor
// fail2ban.conf's dbfile names one.
const DefaultDB = "/var/lib/warden/warden.db"

// Options configure a Server.
type Options struct {
	Config *config.Config // required; its jails are the ones run
	// DBPath overrides fail2ban.conf's dbfile.
	DBPath string
	// Socket is the control socket; "" means control.DefaultSocket.
	Socket string
	// ShellActions runs fail2ban's nftables-* actions as shell commands
	// instead of the native backend.
	ShellActions bool
	// NetNS is a network namespace file descriptor for the native
	// backend (tests); 0 is the caller's namespace.
	NetNS int
	// Table is the native backend's nftables table ("" = its default).
	Table string
	// ServicesPath resolves port names (default /etc/services).
	ServicesPath string
	Version      string
	Logger       *slog.Logger // nil discards
	// Notify receives sd_notify states ("READY=1", "STOPPING=1"); nil
	// writes them to $NOTIFY_SOCKET.
	Notify func(state string) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Server runs every enabled jail of a Config. Build it with New, run it once
// with Run.
type Server struct {
	opts   Options
	log    *slog.Logger
	jails  []*jailRun
	byName map[string]*jailRun
	dbPath string

	// Set by Run before the control socket serves; read by the handler.
	mgr     *ban.Manager
	stop    context.CancelFunc
	mu      sync.Mutex // guards stop
	started time.Time
}

// New checks the configuration and compiles every enabled jail (filters,
// ignore lists, actions); it opens nothing.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("server: no configuration")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Socket == "" {
		opts.Socket = control.DefaultSocket
	}
	if opts.ServicesPath == "" {
		opts.ServicesPath = firewall.DefaultServicesPath
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	s := &Server{opts: opts, log: opts.Logger, byName: map[string]*jailRun{}}
	var svc *firewall.Services
	loadSvc := func() (*firewall.Services, error) {
		if svc == nil {
			var err error
			if svc, err = firewall.LoadServices(opts.ServicesPath); err != nil {
				return nil, fmt.Errorf("server: %w", err)
			}
		}
		return svc, nil
	}
	var errs []error
	for _, j := range opts.Config.Jails {
		jr, err := buildJail(j, &s.opts, loadSvc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.jails = append(s.jails, jr)
		s.byName[jr.name] = jr
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.dbPath = chooseDB(opts.DBPath, opts.Config.Server.DBFile, s.log)
	return s, nil
}

// chooseDB picks the database file: the flag, else dbfile, else DefaultDB.
// fail2ban's own database file is never opened as warden's (its schema
// differs; `warden import-fail2ban` reads it).
func chooseDB(flag, dbfile string, log *slog.Logger) string {
	if flag != "" {
		return flag
	}
	dbfile = strings.TrimSpace(dbfile)
	switch {
	case dbfile == "":
		return DefaultDB
	case strings.EqualFold(dbfile, "none"):
		return ":memory:"
	case filepath.Base(dbfile) == "fail2ban.sqlite3":
		log.Info("dbfile is fail2ban's own database; using warden's", "dbfile", dbfile, "using", DefaultDB)
		return DefaultDB
	}
	return dbfile
}

// DBPath is the database file Run opens.
func (s *Server) DBPath() string { return s.dbPath }

// Jails names the jails run, in configuration order.
func (s *Server) Jails() []string {
	out := make([]string, len(s.jails))
	for i, j := range s.jails {
		out[i] = j.name
	}
	return out
}

// Run opens the store, the firewall and the control socket, runs every jail
// until ctx ends (or a client's "stop"), then shuts down in the order the
// package comment gives.
func (s *Server) Run(ctx context.Context) (err error) {
	s.started = time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.stop = cancel
	s.mu.Unlock()

	if s.dbPath != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(s.dbPath), 0o700); err != nil {
			return fmt.Errorf("server: database directory: %w", err)
		}
	}
	st, err := store.Open(ctx, s.dbPath, store.Options{Logger: s.log, MaxMatches: s.opts.Config.Server.DBMaxMatches})
	if err != nil {
		return fmt.Errorf("server: open database %s: %w", s.dbPath, err)
	}
	// The store is closed last, after the manager's writer has finished.
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("server: close database: %w", cerr)
		}
	}()
	if err := st.SyncJails(ctx, s.Jails()); err != nil {
		return fmt.Errorf("server: %w", err)
	}

	var backends []firewall.Backend
	var specs []firewall.JailSpec
	native := map[string]bool{}
	for _, j := range s.jails {
		if j.spec != nil {
			specs = append(specs, *j.spec)
			native[j.name] = true
		}
	}
	if len(specs) > 0 {
		nb, err := nftables.New(nftables.Options{NetNS: s.opts.NetNS, Table: s.opts.Table, Logger: s.log})
		if err != nil {
			return fmt.Errorf("server: nftables: %w", err)
		}
		defer nb.Close()
		if err := nb.Setup(ctx, specs); err != nil {
			return fmt.Errorf("server: nftables setup: %w", err)
		}
		backends = append(backends, jailsOnly{Backend: nb, jails: native})
		s.log.Info("firewall backend", "backend", "nftables", "table", nb.Table(), "jails", len(specs))
	}

	bcfg := ban.Config{Backends: backends, Store: st, Logger: s.log}
	for _, j := range s.jails {
		jc := ban.JailConfig{Name: j.name, BanTime: j.banTime}
		for _, a := range j.actions {
			jc.Actions = append(jc.Actions, a)
		}
		bcfg.Jails = append(bcfg.Jails, jc)
	}
	mgr, err := ban.New(bcfg)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.mgr = mgr

	ln, err := control.Listen(s.opts.Socket)
	if err != nil {
		return fmt.Errorf("server: control socket: %w", err)
	}
	defer os.Remove(s.opts.Socket)

	// The manager outlives the sources: it runs on its own context,
	// cancelled only once every jail pipeline has drained.
	mgrCtx, mgrCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer mgrCancel()
	mgrDone := make(chan error, 1)
	go func() {
		err := mgr.Run(mgrCtx)
		cancel() // a manager that stops ends the daemon
		mgrDone <- err
	}()
	select {
	case <-mgr.Ready():
	case err := <-mgrDone:
		ln.Close()
		return fmt.Errorf("server: ban manager: %w", err)
	case <-runCtx.Done():
	}

	g, gctx := errgroup.WithContext(runCtx)
	var watches []*startWatch
	for _, j := range s.jails {
		w := newStartWatch(j.currentFiles())
		watches = append(watches, w)
		g.Go(func() error { return s.runJail(gctx, j, st, mgrCtx, w) })
	}
	g.Go(func() error {
		return control.Serve(gctx, ln, handler{s}, control.ServeOptions{Logger: s.log})
	})
	s.waitSourcesStarted(gctx, watches)
	if gctx.Err() == nil {
		s.notify("READY=1")
		s.log.Info("server ready", "jails", len(s.jails), "socket", s.opts.Socket, "db", s.dbPath)
	}

	gerr := g.Wait()
	s.notify("STOPPING=1")
	s.log.Info("sources stopped, lines drained; stopping ban manager")
	mgrCancel()
	merr := <-mgrDone
	if gerr != nil && !errors.Is(gerr, context.Canceled) {
		return fmt.Errorf("server: %w", gerr)
	}
	if merr != nil {
		return fmt.Errorf("server: ban manager: %w", merr)
	}
	return nil
}

// waitSourcesStarted waits, at most startWait, until every file source has
// positioned itself in the files that exist now; a source that is slow or
// broken only delays readiness by that much.
func (s *Server) waitSourcesStarted(ctx context.Context, ws []*startWatch) {
	timeout := time.NewTimer(startWait)
	defer timeout.Stop()
	for _, w := range ws {
		select {
		case <-w.done:
		case <-timeout.C:
			s.log.Warn("log sources slow to start; ready anyway", "waited", startWait)
			return
		case <-ctx.Done():
			return
		}
	}
}

// startWait bounds how long readiness waits for the log sources.
const startWait = 5 * time.Second

// Stop ends Run as a cancelled context would.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
}

func (s *Server) notify(state string) {
	f := s.opts.Notify
	if f == nil {
		f = SDNotify
	}
	if err := f(state); err != nil {
		s.log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// SDNotify sends state to the service manager over $NOTIFY_SOCKET (systemd's
// notify protocol: one datagram); without the variable it does nothing.
func SDNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:] // abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify socket: %w", err)
	}
	return nil
}
