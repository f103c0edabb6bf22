// Command loggen writes realistic, reproducible log files for benchmarks and
// tests: sshd auth.log (classic syslog or RFC 3339 stamps), Postfix/Dovecot
// mail.log, nginx and Apache error logs. Most lines are ordinary noise; a
// share comes from a fixed set of attacking addresses, in the forms the real
// daemons write. The same flags and seed always give the same bytes.
//
// A summary goes to stderr: how many lines, how many of them a stock
// fail2ban jail would report (attack lines), from how many distinct
// addresses, and the same per filter (including aggressive modes).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// defaultStart is fixed so that output depends on the flags alone.
const defaultStart = "2026-11-27T06:25:00Z"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, generates the log and prints the summary. It returns the
// process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, out, verbose, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loggen:", err)
		return 2
	}
	w := stdout
	var f *os.File
	if out != "" && out != "-" {
		f, err = os.Create(out)
		if err != nil {
			fmt.Fprintln(stderr, "loggen:", err)
			return 1
		}
		w = f
	}
	st, err := Generate(cfg, w)
	if f != nil {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", out, cerr)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "loggen:", err)
		return 1
	}
	printSummary(stderr, cfg, st, verbose)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (cfg Config, out string, verbose bool, err error) {
	fs := flag.NewFlagSet("loggen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Kind, "kind", "auth", "log flavour: auth, auth-rfc3339, mail, nginx or apache")
	fs.IntVar(&cfg.Lines, "lines", 100000, "number of lines to write")
	fs.IntVar(&cfg.Attackers, "attackers", 50, "number of attacking addresses (about one in eight IPv6)")
	fs.Float64Var(&cfg.AttackRatio, "attack-ratio", 0.1, "share of lines that belong to attack sessions, 0..1")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed; the same seed and flags give the same output")
	start := fs.String("start", defaultStart, "log time of the first line (RFC 3339; its offset is the log's zone)")
	fs.Float64Var(&cfg.Rate, "rate", 20, "mean lines per second of log time")
	fs.StringVar(&cfg.Host, "host", "srv01", "host name in syslog lines")
	fs.StringVar(&out, "o", "", "write the log to this file instead of stdout")
	fs.BoolVar(&verbose, "v", false, "also print per-filter figures and the busiest addresses")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loggen [flags]  (log on stdout or -o, summary on stderr)")
		fs.PrintDefaults()
	}
	if err = fs.Parse(args); err != nil {
		return cfg, "", false, err
	}
	if fs.NArg() > 0 {
		return cfg, "", false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.Start, err = time.Parse(time.RFC3339Nano, *start)
	if err != nil {
		return cfg, "", false, fmt.Errorf("-start: %w", err)
	}
	return cfg, out, verbose, cfg.validate()
}

// printSummary writes the one-line summary, then one line per filter:
//
//	loggen: kind=auth lines=1000000 attack-lines=81234 attackers=50
//	loggen:   sshd: lines=81234 addrs=50
func printSummary(w io.Writer, cfg Config, st Stats, verbose bool) {
	fmt.Fprintf(w, "loggen: kind=%s seed=%d lines=%d attack-lines=%d attackers=%d attack-session-lines=%d\n",
		cfg.Kind, cfg.Seed, st.Lines, st.AttackLines, st.Attackers, st.SessionLines)
	for _, f := range st.Filters {
		fmt.Fprintf(w, "loggen:   %s: lines=%d addrs=%d\n", f.Name, f.Lines, len(f.Addrs))
		if !verbose {
			continue
		}
		type count struct {
			addr string
			n    int
		}
		var cs []count
		for a, n := range f.Addrs {
			cs = append(cs, count{a.String(), n})
		}
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].n != cs[j].n {
				return cs[i].n > cs[j].n
			}
			return cs[i].addr < cs[j].addr
		})
		for _, c := range cs[:min(5, len(cs))] {
			fmt.Fprintf(w, "loggen:     %6d %s\n", c.n, c.addr)
		}
	}
}
