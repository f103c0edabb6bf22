package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"warden/internal/config"
	"warden/internal/control"
	"warden/internal/logfmt"
	"warden/internal/server"
)

type serverOpts struct {
	conf, socket, db, logFormat string
	pidfile                     string
	foreground, shellActions    bool
	keepBans                    bool
	readyFD                     int // daemonize's pipe, in the detached child
}

func newServerCmd() *cobra.Command {
	var o serverOpts
	cmd := &cobra.Command{
		Use:   "server",
		Short: "run the warden daemon",
		Long: "server watches the logs of every enabled jail, bans offenders in the firewall\n" +
			"(nftables natively, other actions through fail2ban's shell commands), lifts bans\n" +
			"on time and keeps bans and log positions in its database across restarts.\n" +
			"Without -f it daemonises as fail2ban-server does: it starts detached and\n" +
			"returns once the daemon serves (or prints why it could not start); systemd\n" +
			"runs it with -f (Type=notify). The control socket and pid file are\n" +
			"fail2ban.conf's socket and pidfile unless --socket/--pidfile say otherwise.\n" +
			"SIGTERM or SIGINT stop it cleanly. SIGHUP reloads the\n" +
			"configuration as `warden client reload` does: a configuration with errors is\n" +
			"reported and the running one kept.\n" +
			"Unless GOMEMLIMIT or GOGC is set in its environment, the server keeps a soft\n" +
			"memory limit that follows what is live: 32 MiB, or 4/3 of the live heap and\n" +
			"the Go runtime's own memory when that is more (GOMEMLIMIT=off: no limit).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServer(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.conf, "conf", "", "configuration directory, or \"builtin\" for the embedded tree (default: /etc/warden, /etc/fail2ban, built-in)")
	f.BoolVarP(&o.foreground, "foreground", "f", false, "stay in the foreground (for systemd); without it the server daemonises")
	f.StringVar(&o.socket, "socket", "", "control socket (default: fail2ban.conf's socket, else "+control.DefaultSocket+")")
	f.StringVar(&o.pidfile, "pidfile", "", "pid file (default: fail2ban.conf's pidfile; none when it sets none)")
	f.IntVar(&o.readyFD, "ready-fd", 0, "internal: pipe to the parent of a daemonised server")
	_ = f.MarkHidden("ready-fd")
	f.StringVar(&o.db, "db", "", "ban database (default: fail2ban.conf's dbfile, else "+server.DefaultDB+")")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text (fail2ban's layout) or json")
	f.BoolVar(&o.shellActions, "shell-actions", false, "run fail2ban's nftables actions as shell commands instead of natively")
	f.BoolVar(&o.keepBans, "keep-bans", false, "leave firewall rules and bans in the kernel at stop (as fail2ban.conf's keepbans = true)")
	return cmd
}

func runServer(cmd *cobra.Command, o serverOpts) error {
	stderr := cmd.ErrOrStderr()
	cfg, err := loadConf(o.conf, stderr)
	if err != nil {
		return exitError{code: 1, msg: "configuration errors:\n" + err.Error()}
	}
	log, sink, err := serverLogger(stderr, o.logFormat, cfg.Server)
	if err != nil {
		return err
	}
	defer func() { _ = sink.Flush() }()
	for _, w := range cfg.Warnings {
		log.Warn("configuration", "warning", w.String())
	}
	startProfiler(log)
	// Only a socket and pid file the configuration sets are taken: a
	// tree without them gets warden's socket and no pid file, not
	// fail2ban's /var/run/fail2ban paths.
	socket := o.socket
	if socket == "" {
		socket = strings.TrimSpace(cfg.Server.Options["socket"])
	}
	pidfile := o.pidfile
	if pidfile == "" {
		pidfile = strings.TrimSpace(cfg.Server.Options["pidfile"])
	}
	ready := openReadyPipe(o.readyFD)
	srv, err := server.New(server.Options{
		Config: cfg,
		DBPath: o.db,
		Socket: socket,
		Notify: func(state string) error {
			if state == "READY=1" {
				ready.ready()
			}
			return server.SDNotify(state)
		},
		ShellActions: o.shellActions,
		KeepBans:     o.keepBans,
		Version:      version,
		Logger:       log,
		FlushLogs:    sink.Reopen,
		Load: func() (*config.Config, error) {
			cfg, err := loadConf(o.conf, io.Discard)
			if err != nil {
				return nil, err
			}
			for _, w := range cfg.Warnings {
				log.Warn("configuration", "warning", w.String())
			}
			return cfg, nil
		},
	})
	if err != nil {
		ready.fail(err)
		return exitError{code: 1, msg: err.Error()}
	}
	// The configuration is valid: a daemonising server starts its
	// detached copy now, so that errors so far reached the terminal.
	if !o.foreground {
		pid, err := daemonize(cmd.Flags(), stderr)
		if err != nil {
			return exitError{code: 1, msg: err.Error()}
		}
		log.Debug("daemon started", "pid", pid)
		return nil
	}
	removePid, err := writePidFile(pidfile)
	if err != nil {
		ready.fail(err)
		return exitError{code: 1, msg: err.Error()}
	}
	defer removePid()
	defer startMemoryLimit(log)()
	// SIGHUP reloads every jail, as `warden client reload` does.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx := cmd.Context()
	go func() {
		for {
			select {
			case <-hup:
				log.Info("SIGHUP received: reloading")
				_ = srv.Reload(ctx, control.ReloadOptions{}) // logs its own failure
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := srv.Run(ctx); err != nil {
		ready.fail(err)
		return err
	}
	return nil
}

// loadConf reads the configuration tree that --conf dir chooses (note is
// told which tree): once at start and again for every reload, so that a
// reload reads what a restart would.
func loadConf(dir string, note io.Writer) (*config.Config, error) {
	fsys, root, err := chooseConfTree(dir, note)
	if err != nil {
		return nil, err
	}
	return config.Load(fsys, config.Options{Root: root})
}

// serverLogger builds the daemon's logger: at fail2ban.conf's loglevel, to
// its logtarget (STDOUT, STDERR, a file, SYSLOG: the syslogsocket, see
// syslogWriter; SYSTEMD-JOURNAL goes to stderr, which systemd's journal
// collects). The text format is fail2ban's own layout (internal/logfmt),
// so that recidive, logwatch and the like read warden's log as they read
// fail2ban.log; JSON is slog's. Output to a stream or file is buffered
// (see logBuffer); sink's Flush writes what is pending and is called when
// the server returns, its Reopen is flushlogs.
func serverLogger(stderr io.Writer, format string, s config.Server) (log *slog.Logger, sink logSink, err error) {
	return serverLoggerEnv(stderr, format, s, os.Getenv)
}

// logSink is where the server's log goes.
type logSink interface {
	// Flush writes out what is pending.
	Flush() error
	// Reopen is flushlogs: it answers as fail2ban does.
	Reopen() (string, error)
}

var (
	_ logSink = (*logBuffer)(nil)
	_ logSink = (*syslogWriter)(nil)
)

// serverLoggerEnv is serverLogger with the environment given (for
// JOURNAL_STREAM).
func serverLoggerEnv(stderr io.Writer, format string, s config.Server, getenv func(string) string) (log *slog.Logger, sink logSink, err error) {
	if format != "text" && format != "json" {
		return nil, nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
	var lvl slog.Level
	switch strings.ToUpper(strings.TrimSpace(s.LogLevel)) {
	case "CRITICAL", "ERROR":
		lvl = slog.LevelError
	case "WARNING", "WARN":
		lvl = slog.LevelWarn
	case "NOTICE":
		lvl = logfmt.LevelNotice
	case "DEBUG", "TRACEDEBUG", "HEAVYDEBUG":
		lvl = slog.LevelDebug
	}
	w := stderr
	path := "" // a log file's, reopened by flushlogs
	// fail2ban leaves the time out for SYSLOG (syslog stamps lines), and
	// the padding too; the journal stamps lines as well.
	noTime, noPad := false, false
	var sys *syslogWriter
	var warns []string
	t := strings.TrimSpace(s.LogTarget)
	name, opts := t, [][2]string(nil)
	if strings.HasSuffix(t, "]") {
		if n, o, err := config.ParseSpec(t); err == nil && strings.EqualFold(n, "SYSLOG") {
			name, opts = n, o
		}
	}
	switch strings.ToUpper(name) {
	case "", "STDERR":
	case "SYSLOG":
		st, ws := parseSyslogTarget(opts)
		warns = ws
		noTime, noPad = !st.time, !st.padding
		sock := syslogSocketPath(s.SyslogSocket)
		if sys, err = openSyslog(sock, st.facility, stderr, time.Now); err != nil {
			// fail2ban keeps logging where it logged before, which
			// for a starting server is stderr.
			warns = append(warns, fmt.Sprintf("logtarget = SYSLOG: %v: logging to stderr", err))
			noTime, noPad = true, true
		}
	case "SYSTEMD-JOURNAL":
		noTime = true
	case "STDOUT":
		w = os.Stdout
	default:
		f, err := openLogFile(t)
		if err != nil {
			return nil, nil, fmt.Errorf("logtarget: %w", err)
		}
		w, path = f, t
	}
	// One syslog record, one message: no buffer that would join them.
	// On systemd's journal stream, each line leads with its syslog
	// priority, which journald records as PRIORITY (recidive's
	// journalmatch wants PRIORITY=5 for bans), and no time.
	var out io.Writer
	var buf *logBuffer
	prio := true
	if sys != nil {
		out, sink = sys, sys
	} else {
		prio = toJournal(w, getenv("JOURNAL_STREAM"))
		noTime = noTime || prio
		buf = newLogBuffer(w, logFlushEvery)
		buf.path = path
		out, sink = buf, buf
	}
	var h slog.Handler
	if format == "text" {
		h = logfmt.New(out, logfmt.Options{Level: lvl, NoTime: noTime, NoPadding: noPad, Priority: prio})
	} else {
		h = slog.NewJSONHandler(out, &slog.HandlerOptions{Level: lvl, ReplaceAttr: logfmt.ReplaceAttr})
	}
	if buf != nil {
		h = flushOnWarn{Handler: h, buf: buf}
	}
	log = slog.New(h)
	for _, m := range warns {
		log.Warn("configuration", "warning", m)
	}
	return log, sink, nil
}

// openLogFile opens (creating it) the log file at path for appending.
func openLogFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// toJournal reports whether w is the stream that systemd connected to the
// journal: JOURNAL_STREAM holds that stream's "device:inode"
// (systemd.exec(5)).
func toJournal(w io.Writer, stream string) bool {
	f, ok := w.(*os.File)
	if stream == "" || !ok {
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var st syscall.Stat_t
	serr := err
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fstat(int(fd), &st) }); err != nil || serr != nil {
		return false
	}
	return stream == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// logFlushEvery is the longest a buffered log line waits to be written.
const logFlushEvery = 100 * time.Millisecond

// logBuffer gathers log lines and writes them together, at most every
// "every" after the first line pending: a flood's one line per ban then
// costs a write per hundred milliseconds, not a write per ban. Safe for
// concurrent use (slog's handlers also lock around each record).
type logBuffer struct {
	every time.Duration
	// path is the log file's (Reopen opens it again); "" for a stream.
	path string

	mu    sync.Mutex
	w     *bufio.Writer
	out   io.Writer   // what w writes to
	timer *time.Timer // armed while something is pending
}

func newLogBuffer(w io.Writer, every time.Duration) *logBuffer {
	return &logBuffer{every: every, w: bufio.NewWriterSize(w, 64<<10), out: w}
}

// Reopen is flushlogs (logrotate's postrotate runs `fail2ban-client
// flushlogs`): what is pending goes to the file it was logged for, then
// the log file is opened again by its path, so that lines go to the new
// file once the old one was renamed, and the old one is closed. It
// answers as fail2ban does: "rolled over" for a file, "flushed" for a
// stream. A write error (a full disk) sticks to the buffer until Reopen
// replaces it.
func (b *logBuffer) Reopen() (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ferr := b.w.Flush()
	if b.path == "" {
		return "flushed", ferr
	}
	f, err := openLogFile(b.path)
	if err != nil {
		return "", fmt.Errorf("flushlogs: logtarget: %w", err)
	}
	if c, ok := b.out.(io.Closer); ok {
		_ = c.Close()
	}
	b.out = f
	b.w.Reset(f)
	return "rolled over", nil
}

// Write implements io.Writer.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.w.Write(p)
	if b.timer == nil && b.w.Buffered() > 0 {
		b.timer = time.AfterFunc(b.every, func() { _ = b.Flush() })
	}
	return n, err
}

// Flush writes whatever is pending.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	return b.w.Flush()
}

// flushOnWarn writes warnings and errors out at once, with everything
// logged before them.
type flushOnWarn struct {
	slog.Handler
	buf *logBuffer
}

// Handle implements slog.Handler.
func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// WithAttrs implements slog.Handler.
func (h flushOnWarn) WithAttrs(as []slog.Attr) slog.Handler {
	return flushOnWarn{Handler: h.Handler.WithAttrs(as), buf: h.buf}
}

// WithGroup implements slog.Handler.
func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{Handler: h.Handler.WithGroup(name), buf: h.buf}
}
