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
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"warden/internal/ban"
	"warden/internal/config"
	"warden/internal/control"
	"warden/internal/firewall"
	"warden/internal/logfmt"
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
	// FlushLogs is flushlogs: it writes out the log and opens its file
	// again (after logrotate renamed it) and says what it did, in
	// fail2ban's words ("rolled over", "flushed"). nil answers "flushed".
	FlushLogs func() (string, error)
	// Notify receives sd_notify states ("READY=1", "STOPPING=1"); nil
	// writes them to $NOTIFY_SOCKET.
	Notify func(state string) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HealInterval is how often the native backends are checked and
	// what is missing put back; 0 means fail2ban.conf's healinterval
	// ([Definition], default 5s), negative means never.
	HealInterval time.Duration
	// KeepBans leaves warden's firewall rules and bans in the kernel
	// when the server stops (their kernel timeouts lift them; the next
	// start takes them over); fail2ban.conf's keepbans = true does the
	// same. Otherwise stopping removes everything warden created.
	KeepBans bool
	// kinds replaces nativeKinds() in tests.
	kinds []nativeKind
	// mail is what the jails' mail actions share (notify.go).
	mail *mailHub
	// webhooks is what the jails' webhook actions share (webhook.go).
	webhooks *webhookHub
	// whois are the whois clients the mail and webhook actions share
	// (notify.go).
	whois *whoisClients
	// Load reads the configuration afresh for a reload (SIGHUP, `client
	// reload`); nil means reload is not supported.
	Load func() (*config.Config, error)
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
	dbPath string

	// The running generation: replaced as a whole by a reload, read by
	// the handler through view().
	genMu  sync.RWMutex
	cfg    *config.Config
	jails  []*jailRun
	byName map[string]*jailRun
	mgr    *ban.Manager // set by Run before the control socket serves
	fws    []inUse      // the native backends of the generation

	// changes carries reloads and jail start/stop from the handler to
	// Run's loop; reloadMu lets one change at a time be prepared.
	auto    autoChoice   // banaction = auto's pick, made once
	inotify inotifyProbe // whether file notifications work here

	changes  chan *change
	quit     chan struct{} // closed when Run returns
	reloadMu sync.Mutex
	// stoppedJails are configured jails a client stopped; guarded by reloadMu.
	stoppedJails map[string]bool

	stop    context.CancelFunc
	mu      sync.Mutex // guards stop
	started time.Time

	workers int // goroutines searching a large batch (filterWorkers)
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
	s := &Server{opts: opts, log: opts.Logger, cfg: opts.Config,
		changes: make(chan *change), quit: make(chan struct{}), stoppedJails: map[string]bool{},
		workers: filterWorkers(runtime.GOMAXPROCS(0))}
	if _, err := readSettings(&s.opts, opts.Config.Server); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	jails, err := s.buildAll(opts.Config)
	if err != nil {
		return nil, err
	}
	s.jails, s.byName = jails, index(jails)
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
func (s *Server) Jails() []string { return names(s.view().jails) }

func names(js []*jailRun) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.name
	}
	return out
}

// Run opens the store, the firewall and the control socket, runs every jail
// until ctx ends (or a client's "stop"), then shuts down in the order the
// package comment gives.
func (s *Server) Run(ctx context.Context) (err error) {
	s.started = time.Now()
	defer close(s.quit)
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
	s.opts.mail.attach(st) // undeliverable mail waits in the database (notify.go)
	ln, err := control.Listen(s.opts.Socket)
	if err != nil {
		return fmt.Errorf("server: control socket: %w", err)
	}
	defer os.Remove(s.opts.Socket)

	// The native backends serve every generation: each generation's
	// Setup adds the sets of new jails and removes those of jails gone,
	// keeping the elements of the others.
	// At the end, after the last ban manager has stopped, they are torn
	// down unless keepbans says to leave the bans in the kernel.
	fw := &natives{kinds: s.opts.nativeKinds()}
	defer func() {
		keep := s.opts.KeepBans
		if st, serr := readSettings(&s.opts, s.view().cfg.Server); serr == nil {
			keep = st.keep
		}
		tctx, tcancel := context.WithTimeout(context.WithoutCancel(ctx), teardownTimeout)
		defer tcancel()
		fw.stop(tctx, keep, s.log)
	}()

	// The control socket outlives the generations; it serves once the
	// first one has started its sources (so that a line logged after a
	// client got an answer is read) and stops with runCtx.
	var served chan error
	serve := func() {
		served = make(chan error, 1)
		go func() {
			served <- control.Serve(runCtx, ln, handler{s}, control.ServeOptions{Logger: s.log})
		}()
	}
	defer func() {
		cancel()
		if served == nil {
			ln.Close()
			return
		}
		if serr := <-served; serr != nil && !errors.Is(serr, context.Canceled) && err == nil {
			err = fmt.Errorf("server: control socket: %w", serr)
		}
	}()

	// The webhook notifiers stop after the last generation's actions.
	defer s.opts.closeWebhooks()
	var pending *change // the change that ended the previous generation
	for first := true; ; first = false {
		next, gerr := s.runGeneration(ctx, runCtx, st, fw, first, pending, serve)
		if gerr != nil {
			if next != nil {
				next.done <- gerr
			}
			if runCtx.Err() != nil && errors.Is(gerr, context.Canceled) {
				// A stop that came while a generation was starting
				// (a reload's): what it cut short is a stop, not a
				// failure (an error exit makes systemd call the
				// unit failed).
				return nil
			}
			return gerr
		}
		if next == nil {
			return nil
		}
		pending = next
	}
}

// runGeneration runs the current jails with a ban manager of their own until
// runCtx ends (nil, nil) or a change arrives; it then lifts the bans the
// change asks to lift, stops the jails and the manager, and returns the
// change for the caller to swap in. The first generation calls serve once its
// sources have started. applied, if not nil, is the change this
// generation carries out: it is answered once the generation is ready.
func (s *Server) runGeneration(ctx, runCtx context.Context, st *store.Store, fw *natives, first bool, applied *change, serve func()) (*change, error) {
	v := s.view()
	if applied != nil {
		v.cfg, v.jails = applied.cfg, applied.jails
	}
	answer := func(err error) {
		if applied != nil {
			applied.done <- err
			applied = nil
		}
	}
	if err := st.SyncJails(ctx, names(v.jails)); err != nil {
		answer(err)
		return nil, fmt.Errorf("server: %w", err)
	}
	fws, err := fw.setup(ctx, &s.opts, v.jails)
	if err != nil {
		answer(err)
		return nil, fmt.Errorf("server: %w", err)
	}
	var backends []firewall.Backend
	for _, u := range fws {
		backends = append(backends, u.own)
	}

	set, err := readSettings(&s.opts, v.cfg.Server)
	if err != nil {
		answer(err)
		return nil, fmt.Errorf("server: %w", err)
	}
	bcfg := ban.Config{Backends: backends, Store: st, Logger: s.log, HealInterval: set.heal,
		// A flood's or a restore's garbage is given back at once rather
		// than kept as room for a heap twice the live one (at 100,000
		// bans: RSS 113 -> 72 MB after a flood, 62 MB after a restart).
		Settled: debug.FreeOSMemory}
	if w := shellReloadWatch(ctx, &s.opts, v.jails); w != nil {
		defer w.Close()
		bcfg.Watchers = []firewall.Watcher{w}
	}
	evidence := false
	for _, j := range v.jails {
		jc := ban.JailConfig{Name: j.name, BanTime: j.banTime, Actions: j.actions}
		bcfg.Jails = append(bcfg.Jails, jc)
		evidence = evidence || len(j.actions) > 0
	}
	// Matched lines and fields are read by actions (<matches> and the
	// F-* tags by the jail's own, <ipmatches>, the history of every
	// jail, by any) and kept in the database's history. With native
	// backends only, a flood's batches keep none (handleBatch).
	for _, j := range v.jails {
		j.evidence = evidence
		j.tracker.KeepEvidence(true)
	}
	mgr, err := ban.New(bcfg)
	if err != nil {
		answer(err)
		return nil, fmt.Errorf("server: %w", err)
	}
	prev := s.view().byName
	if first {
		prev = nil
	}
	logJailStarts(s.log, v.jails, prev, s.inotify.usable())
	// The handler sees the new jails and their manager together.
	s.genMu.Lock()
	s.cfg, s.jails, s.byName, s.mgr, s.fws = v.cfg, v.jails, index(v.jails), mgr, fws
	s.genMu.Unlock()

	// The manager outlives the sources: it runs on its own context,
	// cancelled only once every jail pipeline has drained.
	mgrCtx, mgrCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer mgrCancel()
	mgrDone := make(chan error, 1)
	go func() {
		mgrDone <- mgr.Run(mgrCtx)
	}()
	select {
	case <-mgr.Ready():
	case err := <-mgrDone:
		answer(err)
		return nil, fmt.Errorf("server: ban manager: %w", err)
	case <-runCtx.Done():
	}

	genCtx, genCancel := context.WithCancel(runCtx)
	defer genCancel()
	g, gctx := errgroup.WithContext(genCtx)
	var watches []*startWatch
	for _, j := range v.jails {
		w := newStartWatch(j.currentFiles())
		watches = append(watches, w)
		g.Go(func() error { return s.runJail(gctx, j, st, mgrCtx, w) })
	}
	s.waitSourcesStarted(gctx, watches)
	if first {
		serve()
	}
	if gctx.Err() == nil {
		if first {
			s.notify("READY=1")
			s.log.Info("server ready", "jails", len(v.jails), "socket", s.opts.Socket, "db", s.dbPath)
		} else {
			s.log.Info("configuration reloaded", "jails", len(v.jails))
		}
	}
	answer(nil)

	var next *change
	var merr error
	mgrEnded := false
	select {
	case <-gctx.Done():
	case next = <-s.changes:
		for _, name := range next.unban {
			if n, err := mgr.UnbanAll(ctx, name); err != nil {
				s.log.Error("lifting bans of a stopped jail failed", "jail", name, "err", err)
			} else if n > 0 {
				s.log.Info("bans lifted", "jail", name, "bans", n)
			}
		}
	case merr = <-mgrDone:
		mgrEnded = true // a manager that stops ends the daemon
	}
	genCancel()
	gerr := g.Wait()
	if next == nil {
		s.notify("STOPPING=1")
		s.log.Info("sources stopped, lines drained; stopping ban manager")
	}
	mgrCancel()
	if !mgrEnded {
		merr = <-mgrDone
	}
	if next == nil && merr == nil {
		// fail2ban's "Jail 'x' stopped", once its bans are handled.
		for _, j := range v.jails {
			s.log.Info(logfmt.MsgJailStopped, "jail", j.name)
		}
	}
	if gerr != nil && !errors.Is(gerr, context.Canceled) {
		return next, fmt.Errorf("server: %w", gerr)
	}
	if merr != nil {
		return next, fmt.Errorf("server: ban manager: %w", merr)
	}
	if mgrEnded {
		return nil, errors.New("server: ban manager stopped")
	}
	return next, nil
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

// teardownTimeout bounds the removal of the firewall rules at stop.
const teardownTimeout = 30 * time.Second

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
