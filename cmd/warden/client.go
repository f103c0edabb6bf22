package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"warden/internal/config"
	"warden/internal/control"
)

// clientOpts are the options of `warden client`, named like
// fail2ban-client's.
type clientOpts struct {
	socket  string // -s; else the configuration's socket
	conf    string // -c
	verbose int
	timeout time.Duration
	json    bool
	compat  bool
}

const clientUsage = `Usage: %s [OPTIONS] <COMMAND>

Send a command to the running warden daemon over its control socket.
Commands and output are those of fail2ban-client.

Options:
    -s, --socket <FILE>     socket path (default: fail2ban.conf's socket in the
                            configuration, else ` + control.DefaultSocket + `)
    -c, --conf <DIR>        configuration directory whose fail2ban.conf names the
                            socket (default: /etc/warden, /etc/fail2ban, built-in)
    --timeout <TIME>        how long to wait for an answer (default 30s)
    --json                  print the daemon's answer as JSON
    -v                      increase verbosity
    -q                      decrease verbosity
    --str2sec <STRING>      convert a time abbreviation to seconds
    -h, --help              display this help message
    -V, --version           print the version (-V: short form)

Commands:
    ping [TIMEOUT]                         test that the daemon answers
    version                                the daemon's version
    status                                 list the jails
    status <JAIL> [basic|short]            a jail's counters, files and bans
    status --all [basic|short]             the above for every jail
    status --firewall                      per firewall backend: bans in place
                                           against bans that should be
    stats                                  counters of every jail, one table
    banned                                 banned addresses, per jail
    banned <IP> ...                        the jails each address is banned in
    unban <IP> ... | unban --all           lift bans in every jail
    set <JAIL> banip <IP> ...              ban addresses in a jail
    set <JAIL> unbanip [--report-absent] <IP> ...
                                           lift bans in a jail
    get <JAIL> <OPTION> [...]              read a jail option (bantime, findtime,
                                           maxretry, ignoreip, logpath, banip ...)
    set <JAIL> <OPTION> <VALUE> ...        change a jail option (bantime, findtime,
                                           maxretry, addignoreip, delignoreip,
                                           bantime.* ...)
    get|set loglevel|logtarget|dbfile|dbpurgeage ...
                                           daemon-wide options
    reload [--restart] [--unban] [--if-exists] [--all|<JAIL>]
                                           reread the configuration
    restart [--unban] [--if-exists] <JAIL> restart one jail
    start <JAIL> | stop <JAIL>             start or stop a jail
    stop                                   stop the daemon
    flushlogs                              reopen the daemon's log file
    help                                   this text
`

func newClientCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "client [OPTIONS] COMMAND...",
		Short: "send a command to the running daemon (fail2ban-client)",
		Long: "client sends fail2ban-client's commands to the warden daemon and prints the\n" +
			"answers in fail2ban-client's layout. Run `warden client -h` for the commands.",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := runClient(cmd.Context(), args, stdout, stderr); code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
}

// unsupportedClientOpts maps fail2ban-client options warden's client does
// not take to what to use instead.
var unsupportedClientOpts = map[string]string{
	"-d":             "to see the configuration, run `warden config check`",
	"--dp":           "to see the configuration, run `warden config check`",
	"--dump-pretty":  "to see the configuration, run `warden config check`",
	"-t":             "to test the configuration, run `warden config check`",
	"--test":         "to test the configuration, run `warden config check`",
	"-i":             "interactive mode is not available; run one command per call",
	"-x":             "the daemon removes a stale socket itself when it starts",
	"-b":             "the daemon is started by its service manager, not by the client",
	"-f":             "the daemon is started by its service manager, not by the client",
	"--async":        "the daemon is started by its service manager, not by the client",
	"-p":             "the pid file is the daemon's business; the client only needs -s",
	"--pidfile":      "the pid file is the daemon's business; the client only needs -s",
	"--pname":        "the process name is the daemon's business",
	"--loglevel":     "use `set loglevel LEVEL` to change the daemon's log level",
	"--logtarget":    "use `set logtarget TARGET` to change the daemon's log target",
	"--syslogsocket": "use `set syslogsocket SOCKET`",
}

// clientOptsWithValue are the options that take a value.
var clientOptsWithValue = map[string]bool{
	"-c": true, "--conf": true, "-s": true, "--socket": true, "--timeout": true, "--str2sec": true,
	"-p": true, "--pidfile": true, "--pname": true, "--loglevel": true, "--logtarget": true, "--syslogsocket": true,
}

// runClient parses fail2ban-client style arguments, runs the command and
// returns the exit code: 0 on success, 255 on any failure (as
// fail2ban-client).
func runClient(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := clientOpts{verbose: 1, timeout: 30 * time.Second}
	prog := "warden client"
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ERROR   "+format+"\n", a...)
		return 255
	}
	// Options end at the first word that is not one (as getopt does).
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		opt, val, hasVal := args[0], "", false
		if strings.HasPrefix(opt, "--") {
			if opt == "--" {
				args = args[1:]
				break
			}
			if i := strings.IndexByte(opt, '='); i >= 0 {
				opt, val, hasVal = opt[:i], opt[i+1:], true
			}
		} else if len(opt) > 2 {
			if clientOptsWithValue[opt[:2]] {
				opt, val, hasVal = opt[:2], opt[2:], true
			} else {
				// Bundled flags: -vq is -v -q.
				rest := make([]string, 0, len(opt)-1+len(args))
				for _, r := range opt[1:] {
					rest = append(rest, "-"+string(r))
				}
				args = append(rest, args[1:]...)
				continue
			}
		}
		args = args[1:]
		if clientOptsWithValue[opt] && !hasVal {
			if len(args) == 0 {
				return fail("option %s needs a value", opt)
			}
			val, args = args[0], args[1:]
		}
		if hint, ok := unsupportedClientOpts[opt]; ok {
			return fail("option %s of fail2ban-client is not supported by %s: %s", opt, prog, hint)
		}
		switch opt {
		case "--fail2ban-compat":
			o.compat, prog = true, "fail2ban-client"
		case "-s", "--socket":
			o.socket = val
		case "-c", "--conf":
			o.conf = val
		case "--timeout":
			d, err := config.ParseTime(val)
			if err != nil || d <= 0 {
				return fail("--timeout %q: not a positive time", val)
			}
			o.timeout = d
		case "--json":
			o.json = true
		case "-v":
			o.verbose++
		case "-q":
			o.verbose--
		case "--str2sec":
			s, err := str2sec(val)
			if err != nil {
				return fail("%v", err)
			}
			fmt.Fprintln(stdout, s)
			return 0
		case "-h", "--help":
			fmt.Fprintf(stdout, clientUsage, prog)
			return 0
		case "-V":
			fmt.Fprintln(stdout, version)
			return 0
		case "--version":
			fmt.Fprintln(stdout, "warden v"+version)
			return 0
		default:
			fmt.Fprintf(stderr, clientUsage, prog)
			return fail("unknown option %s", opt)
		}
	}
	if len(args) == 0 {
		fmt.Fprintf(stdout, clientUsage, prog)
		return 255
	}
	if args[0] == "help" {
		fmt.Fprintf(stdout, clientUsage, prog)
		return 0
	}
	if o.socket == "" {
		o.socket = configuredSocket(o.conf)
	}
	if len(args) == 1 && args[0] == "start" {
		return o.startServer(ctx, stderr)
	}
	cmd, err := control.ParseCommand(args)
	if err != nil {
		return fail("%v", err)
	}
	return o.send(ctx, cmd, stdout, stderr)
}

// configuredSocket is the socket fail2ban.conf sets in the configuration
// tree the server would read (conf as its --conf), else
// control.DefaultSocket, as the server chooses it.
func configuredSocket(conf string) string {
	fsys, root, err := chooseConfTree(conf, io.Discard)
	if err != nil {
		return control.DefaultSocket
	}
	cfg, _ := config.Load(fsys, config.Options{Root: root})
	if cfg == nil || strings.TrimSpace(cfg.Server.Options["socket"]) == "" {
		return control.DefaultSocket
	}
	return strings.TrimSpace(cfg.Server.Options["socket"])
}

// startServer answers fail2ban-client's bare "start": the client cannot
// start warden's daemon, but it says whether one is already running.
func (o clientOpts) startServer(ctx context.Context, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if c, err := control.Dial(ctx, o.socket); err == nil {
		defer c.Close()
		if c.Ping(ctx) == nil {
			fmt.Fprintln(stderr, "ERROR   Server already running")
			return 255
		}
	}
	fmt.Fprintln(stderr, "ERROR   the client does not start the daemon; start it with its service manager (systemctl start warden)")
	return 255
}

// send runs one parsed command against the daemon and prints the answer.
func (o clientOpts) send(ctx context.Context, cmd control.Command, stdout, stderr io.Writer) int {
	timeout := o.timeout
	if cmd.Name == "ping" && len(cmd.Args) == 1 {
		secs, _ := strconv.ParseFloat(cmd.Args[0], 64)
		if secs > 0 {
			timeout = time.Duration(secs * float64(time.Second))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := control.Dial(ctx, o.socket)
	if err != nil {
		fmt.Fprintln(stderr, "ERROR   "+socketProblem(o.socket, err))
		if o.verbose > 1 {
			fmt.Fprintln(stderr, "ERROR   "+err.Error())
		}
		return 255
	}
	defer c.Close()
	raw, err := c.Call(ctx, cmd.Words())
	if err != nil {
		return o.report(cmd, err, stdout, stderr)
	}
	if o.json {
		var b bytes.Buffer
		if len(raw) == 0 {
			raw = json.RawMessage("null")
		}
		if err := json.Indent(&b, raw, "", "  "); err != nil {
			b.Reset()
			b.Write(raw)
		}
		fmt.Fprintln(stdout, b.String())
		return 0
	}
	text, err := control.Format(cmd, raw)
	if err != nil {
		fmt.Fprintln(stderr, "ERROR   "+err.Error())
		return 255
	}
	fmt.Fprintln(stdout, text)
	return 0
}

// report prints a failed command. As fail2ban-client, the explanation goes
// to stdout in compatibility mode; warden's own mode keeps stdout for
// results and writes errors to stderr.
func (o clientOpts) report(cmd control.Command, err error, stdout, stderr io.Writer) int {
	var se *control.Error
	switch {
	case o.json && errors.As(err, &se):
		b, _ := json.MarshalIndent(map[string]any{"ok": false, "error": se}, "", "  ")
		fmt.Fprintln(stdout, string(b))
	case errors.As(err, &se) && o.compat:
		fmt.Fprintln(stderr, "ERROR   NOK: "+se.Msg)
		fmt.Fprintln(stdout, control.FormatError(cmd, err))
	case errors.As(err, &se):
		fmt.Fprintln(stderr, "ERROR   "+control.FormatError(cmd, err))
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(stderr, "ERROR   no answer from the daemon within %v\n", o.timeout)
	default:
		fmt.Fprintln(stderr, "ERROR   "+err.Error())
	}
	return 255
}

// socketProblem explains a failed connection the way fail2ban-client does.
func socketProblem(path string, err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT):
		return fmt.Sprintf("Failed to access socket path: %s. Is warden running?", path)
	case errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES):
		return fmt.Sprintf("Permission denied to socket: %s, (you must be root)", path)
	default:
		return "Unable to contact server. Is it running?"
	}
}

// floatTime matches time values fail2ban evaluates in floating point:
// fractions, divisions, and months and years (whose lengths are
// fractional numbers of seconds).
var floatTime = regexp.MustCompile(`(?i)[.\/]|\d\s*(mo|y)`)

// str2sec converts a time value to seconds and prints it as
// fail2ban-client --str2sec does: an integer, or a Python float ("5400.0")
// when fail2ban's arithmetic would be in floating point.
func str2sec(s string) (string, error) {
	d, err := config.ParseTime(s)
	if err != nil {
		return "", err
	}
	secs := d.Seconds()
	if secs == math.Trunc(secs) && !floatTime.MatchString(s) {
		return strconv.FormatInt(int64(secs), 10), nil
	}
	f := strconv.FormatFloat(secs, 'f', -1, 64)
	if !strings.ContainsAny(f, ".e") {
		f += ".0"
	}
	return f, nil
}
