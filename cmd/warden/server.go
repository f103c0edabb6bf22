package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"warden/internal/config"
	"warden/internal/control"
	"warden/internal/server"
)

type serverOpts struct {
	conf, socket, db, logFormat string
	foreground, shellActions    bool
	keepBans                    bool
}

func newServerCmd() *cobra.Command {
	var o serverOpts
	cmd := &cobra.Command{
		Use:   "server",
		Short: "run the warden daemon",
		Long: "server watches the logs of every enabled jail, bans offenders in the firewall\n" +
			"(nftables natively, other actions through fail2ban's shell commands), lifts bans\n" +
			"on time and keeps bans and log positions in its database across restarts.\n" +
			"It always runs in the foreground (use systemd's Type=notify); -f is accepted\n" +
			"for fail2ban's sake. SIGTERM or SIGINT stop it cleanly. SIGHUP reloads the\n" +
			"configuration as `warden client reload` does: a configuration with errors is\n" +
			"reported and the running one kept.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServer(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.conf, "conf", "", "configuration directory, or \"builtin\" for the embedded tree (default: /etc/warden, /etc/fail2ban, built-in)")
	f.BoolVarP(&o.foreground, "foreground", "f", false, "stay in the foreground (always the case)")
	f.StringVar(&o.socket, "socket", "", "control socket (default /run/warden/warden.sock)")
	f.StringVar(&o.db, "db", "", "ban database (default: fail2ban.conf's dbfile, else "+server.DefaultDB+")")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&o.shellActions, "shell-actions", false, "run fail2ban's nftables actions as shell commands instead of natively")
	f.BoolVar(&o.keepBans, "keep-bans", false, "leave firewall rules and bans in the kernel at stop (as fail2ban.conf's keepbans = true)")
	return cmd
}

func runServer(cmd *cobra.Command, o serverOpts) error {
	stderr := cmd.ErrOrStderr()
	fsys, root, err := chooseConfTree(o.conf, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(fsys, config.Options{Root: root})
	if err != nil {
		return exitError{code: 1, msg: "configuration errors:\n" + err.Error()}
	}
	log, err := serverLogger(stderr, o.logFormat, cfg.Server)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn("configuration", "warning", w.String())
	}
	srv, err := server.New(server.Options{
		Config:       cfg,
		DBPath:       o.db,
		Socket:       o.socket,
		ShellActions: o.shellActions,
		KeepBans:     o.keepBans,
		Version:      version,
		Logger:       log,
		Load: func() (*config.Config, error) {
			fsys, root, err := chooseConfTree(o.conf, io.Discard)
			if err != nil {
				return nil, err
			}
			cfg, err := config.Load(fsys, config.Options{Root: root})
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
		return exitError{code: 1, msg: err.Error()}
	}
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
	return srv.Run(ctx)
}

// serverLogger builds the daemon's logger: text or JSON, at fail2ban.conf's
// loglevel, to its logtarget (STDOUT, STDERR or a file; SYSLOG and
// SYSTEMD-JOURNAL go to stderr, which systemd's journal collects).
func serverLogger(stderr io.Writer, format string, s config.Server) (*slog.Logger, error) {
	var lvl slog.Level
	switch strings.ToUpper(strings.TrimSpace(s.LogLevel)) {
	case "CRITICAL", "ERROR":
		lvl = slog.LevelError
	case "WARNING", "WARN", "NOTICE":
		lvl = slog.LevelWarn
	case "DEBUG", "TRACEDEBUG", "HEAVYDEBUG":
		lvl = slog.LevelDebug
	}
	w := stderr
	switch t := strings.TrimSpace(s.LogTarget); strings.ToUpper(t) {
	case "", "STDERR", "SYSLOG", "SYSTEMD-JOURNAL":
	case "STDOUT":
		w = os.Stdout
	default:
		f, err := os.OpenFile(t, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("logtarget: %w", err)
		}
		w = f
	}
	ho := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
