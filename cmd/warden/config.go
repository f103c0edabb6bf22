package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"warden/internal/config"
	"warden/internal/defaults"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "inspect warden's (fail2ban-compatible) configuration",
	}
	cmd.AddCommand(newConfigCheckCmd())
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	var confDir, jail string
	var all bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "validate a configuration tree and print each enabled jail resolved",
		Long: "check reads jail.conf, jail.d/, filter.d/, action.d/ (with .local overrides and\n" +
			"[INCLUDES]) the way fail2ban does and prints every enabled jail with its filter\n" +
			"regexes, actions, log paths and times, like fail2ban-client -d. Warnings go to\n" +
			"stderr with file:line; the exit status is non-zero when the tree has errors.\n" +
			"Without --conf the first of /etc/warden and /etc/fail2ban that exists is used,\n" +
			"else the tree built into warden.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fsys, root, err := chooseConfTree(confDir, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			// A jail asked for by name is shown even when disabled.
			cfg, err := config.Load(fsys, config.Options{Root: root, Jail: jail, ForceEnable: all || jail != ""})
			if cfg != nil {
				for _, w := range cfg.Warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
				}
				printConfig(cmd.OutOrStdout(), cfg)
			}
			if err != nil {
				return exitError{code: 1, msg: "configuration errors:\n" + err.Error()}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&confDir, "conf", "", "configuration directory, or \"builtin\" for the embedded tree (default: /etc/warden, /etc/fail2ban, built-in)")
	cmd.Flags().StringVar(&jail, "jail", "", "check only this jail (even when disabled)")
	cmd.Flags().BoolVar(&all, "all", false, "resolve every jail, enabled or not")
	return cmd
}

// builtinConf is the --conf value that selects the embedded tree even where
// /etc/warden or /etc/fail2ban exists.
const builtinConf = "builtin"

// chooseConfTree picks the configuration tree and says which one it took.
func chooseConfTree(confDir string, log io.Writer) (fs.FS, string, error) {
	if confDir == builtinConf {
		fsys, _ := builtinConfTree()
		fmt.Fprintln(log, "warden: using the built-in configuration (--conf builtin)")
		return fsys, "/etc/warden", nil
	}
	if confDir != "" {
		st, err := os.Stat(confDir)
		if err != nil {
			return nil, "", fmt.Errorf("--conf: %w", err)
		}
		if !st.IsDir() {
			return nil, "", fmt.Errorf("--conf %s: not a directory", confDir)
		}
		fmt.Fprintln(log, "warden: using configuration", confDir)
		return os.DirFS(confDir), confDir, nil
	}
	for _, dir := range []string{"/etc/warden", "/etc/fail2ban"} {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			fmt.Fprintln(log, "warden: using configuration", dir)
			return os.DirFS(dir), dir, nil
		}
	}
	if fsys, ok := builtinConfTree(); ok {
		fmt.Fprintln(log, "warden: using the built-in configuration (no /etc/warden or /etc/fail2ban)")
		// The built-in tree stands in for /etc/warden: that is what
		// %(fail2ban_confpath)s and absolute includes refer to.
		return fsys, "/etc/warden", nil
	}
	return nil, "", fmt.Errorf("no configuration found: none of /etc/warden, /etc/fail2ban exists and this build has no built-in tree")
}

// builtinConfTree returns the tree embedded in the binary.
func builtinConfTree() (fs.FS, bool) { return defaults.FS(), true }

func printConfig(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, "# configuration %s\n", cfg.Root)
	s := cfg.Server
	fmt.Fprintf(w, "server loglevel=%s logtarget=%s socket=%s pidfile=%s dbfile=%s dbpurgeage=%s dbmaxmatches=%d\n",
		s.LogLevel, s.LogTarget, s.Socket, s.PidFile, s.DBFile, fmtDur(s.DBPurgeAge), s.DBMaxMatches)
	for _, j := range cfg.Jails {
		state := ""
		if !j.Enabled {
			state = " (disabled)"
		}
		fmt.Fprintf(w, "\n[%s]%s  # %s\n", j.Name, state, j.Pos)
		fmt.Fprintf(w, "  backend    %s\n", j.Backend)
		fmt.Fprintf(w, "  maxretry   %d\n", j.MaxRetry)
		fmt.Fprintf(w, "  findtime   %s\n", fmtDur(j.FindTime))
		fmt.Fprintf(w, "  bantime    %s\n", fmtDur(j.BanTime))
		if len(j.IgnoreIP) > 0 {
			fmt.Fprintf(w, "  ignoreip   %s\n", strings.Join(j.IgnoreIP, " "))
		}
		for _, lf := range j.LogFiles {
			tail := ""
			if lf.Tail {
				tail = " (tail)"
			}
			fmt.Fprintf(w, "  logpath    %s%s\n", lf.Path, tail)
		}
		if f := j.Filter; f != nil {
			fmt.Fprintf(w, "  filter     %s  # %s\n", f.Name, f.File)
			if f.PrefRegex != "" {
				fmt.Fprintf(w, "    prefregex    %s\n", f.PrefRegex)
			}
			for _, r := range f.FailRegex {
				fmt.Fprintf(w, "    failregex    %s\n", r)
			}
			for _, r := range f.IgnoreRegex {
				fmt.Fprintf(w, "    ignoreregex  %s\n", r)
			}
			if f.MaxLines > 0 {
				fmt.Fprintf(w, "    maxlines     %d\n", f.MaxLines)
			}
			if f.DatePattern != "" {
				fmt.Fprintf(w, "    datepattern  %s\n", f.DatePattern)
			}
			for _, m := range f.JournalMatch {
				fmt.Fprintf(w, "    journalmatch %s\n", m)
			}
		}
		for _, a := range j.Actions {
			fmt.Fprintf(w, "  action     %s  # %s\n", a.Name, a.File)
			for _, k := range sortedKeys(a.Params) {
				fmt.Fprintf(w, "    %s = %s\n", k, indentCont(a.Params[k]))
			}
			for _, k := range sortedKeys(a.Commands) {
				fmt.Fprintf(w, "    %s = %s\n", k, indentCont(a.Commands[k]))
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func indentCont(s string) string { return strings.ReplaceAll(s, "\n", "\n        ") }

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "forever"
	}
	return d.String()
}
