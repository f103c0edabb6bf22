package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// regexOpts are the options of `warden regex`, named and defaulted like
// fail2ban-regex's.
type regexOpts struct {
	config      string
	datepattern string
	timezone    string
	encoding    string
	raw         bool
	usedns      string
	maxlines    int
	journal     string
	logLevel    string
	verbose     int
	verboseDate bool
	debuggex    bool
	noCheckAll  bool
	out         string

	printNoMissed   bool
	printNoIgnored  bool
	printAllMatched bool
	printAllMissed  bool
	printAllIgnored bool

	json    bool
	explain bool
	compat  bool
	jobs    int
}

// errUsage marks command-line mistakes: fail2ban-regex prints its help and
// exits with 255 for those.
var errUsage = errors.New("usage")

const regexUsage = "warden regex [OPTIONS] <LOG> <REGEX> [IGNOREREGEX]"

const regexLong = `Test a failregex, a filter or a jail against a log file or a single line,
the way fail2ban-regex does, and print the same summary.

LOG:
  string                a log line (several lines separated by "\n")
  filename              path to a log file (/var/log/auth.log)
  systemd-journal       the systemd journal, every entry the filter's journalmatch
                        (or -m) selects; options as for the systemd backend:
                        systemd-journal[journalflags=1, journalpath=DIR,
                        journalfiles="A B", namespace=NAME]

REGEX:
  string                a failregex
  filter                a filter.d name, optionally with options (sshd[mode=aggressive])
  filename              path to a filter file (filter.d/sshd.conf)
  jail                  a jail name: its filter with the jail's options

IGNOREREGEX:
  string                an ignoreregex`

func newRegexCmd(stdout, stderr *os.File) *cobra.Command {
	o := &regexOpts{}
	cmd := &cobra.Command{
		Use:   "regex [options] LOG|LINE FILTER|REGEX [IGNOREREGEX]",
		Short: "test failregex, filters and jails against a log (fail2ban-regex)",
		Long:  regexLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runRegex(cmd, o, args, stdout, stderr)
			if errors.Is(err, errUsage) {
				fmt.Fprintln(stdout, "Usage: "+regexUsage)
				fmt.Fprintln(stdout)
				fmt.Fprintln(stdout, regexLong)
				fmt.Fprintln(stderr)
				fmt.Fprintln(stderr, strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
				return exitError{code: 255}
			}
			if err != nil {
				fmt.Fprintln(stdout, "ERROR:", err)
				return exitError{code: 255}
			}
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVarP(&o.config, "config", "c", "/etc/fail2ban", "configuration directory (the embedded tree if the default is missing)")
	f.StringVarP(&o.datepattern, "datepattern", "d", "", "date pattern used to find the time in lines")
	f.StringVar(&o.timezone, "timezone", "", "time zone of log times without one (logtimezone)")
	f.StringVar(&o.timezone, "TZ", "", "same as --timezone")
	f.StringVarP(&o.encoding, "encoding", "e", "UTF-8", "log encoding (only UTF-8; invalid bytes are replaced)")
	f.BoolVarP(&o.raw, "raw", "r", false, "raw hosts: never resolve names")
	f.StringVar(&o.usedns, "usedns", "", "how <HOST> matches: yes, warn, no or raw")
	f.IntVarP(&o.maxlines, "maxlines", "L", 0, "maxlines for multi-line regexes")
	f.StringVarP(&o.journal, "journalmatch", "m", "", "journalctl style matches (systemd-journal only)")
	f.StringVarP(&o.logLevel, "log-level", "l", "critical", "accepted for compatibility; warden logs nothing here")
	f.CountVarP(&o.verbose, "verbose", "v", "more detail (per-failure addresses and times)")
	f.IntVar(&o.verbose, "verbosity", 0, "set the verbosity level (0..4)")
	f.BoolVar(&o.verboseDate, "verbose-date", false, "accepted for compatibility")
	f.BoolVar(&o.verboseDate, "VD", false, "accepted for compatibility")
	f.BoolVarP(&o.debuggex, "debuggex", "D", false, "accepted for compatibility, ignored")
	f.BoolVar(&o.noCheckAll, "no-check-all", false, "stop at the first failregex that matches a line")
	f.StringVarP(&o.out, "out", "o", "", "print only failures: id, fid, ip, msg, row, time, date, a field (user, F-USER), a list [time, ip, user] or a <tag> template")
	f.BoolVar(&o.printNoMissed, "print-no-missed", false, "do not print missed lines")
	f.BoolVar(&o.printNoIgnored, "print-no-ignored", false, "do not print ignored lines")
	f.BoolVar(&o.printAllMatched, "print-all-matched", false, "print all matched lines")
	f.BoolVar(&o.printAllMissed, "print-all-missed", false, "print all missed lines, however many")
	f.BoolVar(&o.printAllIgnored, "print-all-ignored", false, "print all ignored lines, however many")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	f.BoolVar(&o.explain, "explain", false, "show each regex's translation and matching engine")
	f.IntVarP(&o.jobs, "jobs", "j", 0, "regex workers (0: one per CPU); results are the same for any number")
	f.BoolVar(&o.compat, "fail2ban-compat", false, "behave exactly like fail2ban-regex (set when run as fail2ban-regex)")
	_ = f.MarkHidden("fail2ban-compat")
	_ = f.MarkHidden("TZ")
	_ = f.MarkHidden("VD")
	return cmd
}

// runRegex checks the arguments and runs the test. It returns the exit code
// for a finished run; errors are printed as fail2ban-regex prints them.
func runRegex(cmd *cobra.Command, o *regexOpts, args []string, stdout, stderr *os.File) (int, error) {
	var problems []string
	if o.printNoMissed && o.printAllMissed {
		problems = append(problems, "ERROR: --print-no-missed and --print-all-missed are mutually exclusive.")
	}
	if o.printNoIgnored && o.printAllIgnored {
		problems = append(problems, "ERROR: --print-no-ignored and --print-all-ignored are mutually exclusive.")
	}
	if len(args) != 2 && len(args) != 3 {
		problems = append(problems, "ERROR: provide both <LOG> and <REGEX>.")
	}
	if o.json && o.out != "" {
		problems = append(problems, "ERROR: --json and --out are mutually exclusive.")
	}
	if len(problems) > 0 {
		return 0, fmt.Errorf("%w: %s", errUsage, strings.Join(problems, "\n"))
	}
	if !strings.EqualFold(o.encoding, "utf-8") && !strings.EqualFold(o.encoding, "utf8") {
		return 0, fmt.Errorf("encoding %q is not supported (only UTF-8)", o.encoding)
	}
	r := &regexRun{
		o:           o,
		configGiven: cmd.Flags().Changed("config"),
		stdout:      stdout,
		progress:    progressOut(stderr, o),
		ctx:         cmd.Context(),
	}
	if stderr != nil {
		r.stderr = stderr
	}
	return r.main(args)
}

// progressOut returns where to draw the progress bar: stderr when it is a
// terminal and the summary is for people.
func progressOut(stderr *os.File, o *regexOpts) io.Writer {
	if o.json || o.out != "" || stderr == nil {
		return nil
	}
	st, err := stderr.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return stderr
}
