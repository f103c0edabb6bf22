package action

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"warden/internal/config"
)

// Errors an Action reports; each comes wrapped with the jail, action and
// operation.
var (
	// ErrFailed: a command exited non-zero, timed out or did not start.
	ErrFailed = errors.New("action command failed")
	// ErrPython: action.d/*.py actions are not shell actions.
	ErrPython = errors.New("python actions are not supported")
)

// DefaultTimeout is a command's time limit when neither the action's
// timeout option nor Options.Timeout sets one (fail2ban's default).
const DefaultTimeout = 60 * time.Second

// Options are what New needs besides the resolved action.
type Options struct {
	Logger *slog.Logger // nil: discard
	Runner Runner       // nil: ShellRunner{}
	// Timeout limits each command when the action has no timeout option;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	Jail    string // for messages
	// BanTime is the jail's bantime: <bantime> for tickets without their
	// own, and for start/stop/flush commands.
	BanTime time.Duration
	// NoIPv6 leaves inet6 out when an action with family variants starts
	// every family at once (fail2ban's allowipv6 = no).
	NoIPv6 bool
	// Hostname answers <fq-hostname> (fqdn) and <sh-hostname>; nil uses
	// the system's name.
	Hostname func(fqdn bool) string
	// Now is the clock for <time> of start/stop commands; nil: time.Now.
	Now func() time.Time
}

// Action is one shell action of a jail. Its methods are safe for
// concurrent use; commands of one action run one at a time.
type Action struct {
	name, jail string
	log        *slog.Logger
	run        Runner
	timeout    time.Duration
	bantime    time.Duration
	now        func() time.Time
	props      *props
	extra      extraTags
	families   []string
	onDemand   bool
	hasCheck   bool
	hasReban   bool
	prolong    bool
	repairUnb  bool
	noRestored bool

	mu       sync.Mutex
	resolved map[string]*props            // by condition
	cmds     map[[2]string]string         // (op, family) -> static command
	started  *famState                    // per family: 1 started, 2 holds bans
	executed map[string]map[string]string // start/stop: family -> command run
	epoch    int
}

// famState is fail2ban's started-families dict: values by family, in the
// order the families first appeared.
type famState struct {
	order []string
	v     map[string]int
}

func (s *famState) get(f string) (int, bool) { v, ok := s.v[f]; return v, ok }

func (s *famState) set(f string, v int) {
	if _, ok := s.v[f]; !ok {
		s.order = append(s.order, f)
	}
	s.v[f] = v
}

func (s *famState) where(keep func(int) bool) []string {
	var out []string
	for _, f := range s.order {
		if keep(s.v[f]) {
			out = append(out, f)
		}
	}
	return out
}

func newFamState() *famState { return &famState{v: map[string]int{}} }

// commandOps are the operations an action may define; each is a property
// whether the file sets it or not (empty means nothing to run).
var commandOps = []string{"actionstart", "actionstop", "actionflush", "actionreload", "actioncheck",
	"actionrepair", "actionban", "actionprolong", "actionreban", "actionunban"}

// New prepares cfg, an action resolved by config.Load, for running.
func New(cfg *config.Action, opts Options) (*Action, error) {
	if cfg.Python {
		return nil, fmt.Errorf("jail %q action %q (%s): %w", opts.Jail, cfg.Name, cfg.File, ErrPython)
	}
	a := &Action{
		name: cfg.Name, jail: opts.Jail, log: opts.Logger, run: opts.Runner, timeout: opts.Timeout,
		bantime: opts.BanTime, now: opts.Now, repairUnb: cfg.RepairOnUnban, noRestored: cfg.NoRestored,
		resolved: map[string]*props{}, cmds: map[[2]string]string{}, started: newFamState(),
		executed: map[string]map[string]string{},
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("jail", opts.Jail, "action", cfg.Name)
	if a.run == nil {
		a.run = ShellRunner{}
	}
	if a.timeout == 0 {
		a.timeout = DefaultTimeout
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.extra.hostname = opts.Hostname
	if a.extra.hostname == nil {
		a.extra.hostname = systemHostname
	}

	m := map[string]string{}
	for _, op := range commandOps {
		m[op] = ""
	}
	for k, v := range cfg.Params {
		m[k] = v
	}
	for k, v := range cfg.Commands {
		m[k] = v
	}
	// bantime is always the ticket's; timeout is a number of seconds.
	delete(m, "bantime")
	if v, ok := m["timeout"]; ok {
		d, err := config.ParseTime(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: action %q: timeout = %q: %w", cfg.File, cfg.Name, v, errors.Join(config.ErrBadTime, err))
		}
		a.timeout = d
	}
	m["timeout"] = seconds(a.timeout)
	a.props = newProps(m)

	hasCond := false
	for k := range m {
		if condFamilyRE.MatchString(k) {
			hasCond = true
			break
		}
	}
	switch {
	case strings.TrimSpace(m["families"]) != "":
		a.families = strings.FieldsFunc(m["families"], func(r rune) bool { return r == ' ' || r == ',' || r == '\n' || r == '\t' })
	case hasCond && opts.NoIPv6:
		a.families = []string{"inet4"}
	case hasCond:
		a.families = []string{"inet4", "inet6"}
	default:
		a.families = []string{""}
	}
	a.onDemand = hasCond
	if _, ok := cfg.Commands["actionstart_on_demand"]; ok {
		a.onDemand = cfg.StartOnDemand
	}
	a.hasCheck = m["actioncheck"] != ""
	a.hasReban = m["actionreban"] != ""
	a.prolong = strings.TrimSpace(m["actionprolong"]) != ""
	// Resolving once here reports recursive definitions at load.
	if _, err := a.resolve(""); err != nil {
		return nil, fmt.Errorf("%s: action %q: %w", cfg.File, cfg.Name, err)
	}
	return a, nil
}

// seconds writes d as fail2ban writes a number of seconds.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func systemHostname(fqdn bool) string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	if !fqdn {
		return h
	}
	if cname, err := net.LookupCNAME(h); err == nil && cname != "" {
		return strings.TrimSuffix(cname, ".")
	}
	return h
}

// Name is the action's name in its jail.
func (a *Action) Name() string { return a.name }

// NoRestored tells that bans restored at start must not run this action.
func (a *Action) NoRestored() bool { return a.noRestored }

// Prolongable tells whether the action has an actionprolong command.
func (a *Action) Prolongable() bool { return a.prolong }

// Timeout is the limit each command runs under.
func (a *Action) Timeout() time.Duration { return a.timeout }

// HasCheck tells whether the action has an actioncheck, which Check runs.
func (a *Action) HasCheck() bool { return a.hasCheck }

// Epoch counts the repairs done after a failed actioncheck. When it grows
// the firewall may have lost its bans: the ban manager should re-ban the
// tickets banned under an older epoch.
func (a *Action) Epoch() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.epoch
}

func (a *Action) resolve(cond string) (*props, error) {
	if p, ok := a.resolved[cond]; ok {
		return p, nil
	}
	p, err := a.props.resolve(cond)
	if err != nil {
		return nil, err
	}
	a.resolved[cond] = p
	return p, nil
}

// static is op's command for fam with every static tag replaced.
func (a *Action) static(op, fam string) (string, error) {
	key := [2]string{op, fam}
	if c, ok := a.cmds[key]; ok {
		return c, nil
	}
	cond := ""
	if fam != "" {
		cond = "family=" + fam
	}
	p, err := a.resolve(cond)
	if err != nil {
		return "", err
	}
	c, err := expandStatic("<"+op+">", p, cond, a.extra)
	if err != nil {
		return "", err
	}
	a.cmds[key] = c
	return c, nil
}

// operation is op's command for fam as the start/stop/check operations
// see it: static tags and <family> replaced (and F-* tags blanked, as
// fail2ban does there).
func (a *Action) operation(op, fam string) (string, error) {
	c, err := a.static(op, fam)
	if err != nil || fam == "" || !strings.Contains(c, "<") {
		return c, err
	}
	famOnly := func(tag string) (string, bool) {
		if tag == "family" {
			return fam, true
		}
		return "", false
	}
	return expandDynamic(c, famOnly, func(string) string { return "" }, a.extra, op, fam).Script, nil
}

// exec runs c and tells whether it succeeded. An empty script succeeds
// without running.
func (a *Action) exec(ctx context.Context, c Command) bool {
	if c.Script == "" {
		return true
	}
	start := time.Now()
	res, err := a.run.Run(ctx, c, a.timeout)
	took := time.Since(start)
	ok := err == nil && res.ExitCode == 0
	level := slog.LevelDebug
	if !ok {
		level = slog.LevelError
	}
	if !a.log.Enabled(ctx, level) {
		return ok
	}
	attrs := []any{"op", c.Op, "family", c.Family, "exit", res.ExitCode, "took", took.Round(time.Millisecond), "cmd", c.String()}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	if len(res.Stdout) > 0 {
		attrs = append(attrs, "stdout", strings.TrimRight(string(res.Stdout), "\n"))
	}
	if len(res.Stderr) > 0 {
		attrs = append(attrs, "stderr", strings.TrimRight(string(res.Stderr), "\n"))
	}
	msg := "command ran"
	if !ok {
		msg = "command failed"
	}
	a.log.Log(ctx, level, msg, attrs...)
	return ok
}

func (a *Action) fail(op, what string, err error) error {
	if what != "" {
		what = " " + what
	}
	if err == nil {
		err = ErrFailed
	}
	return fmt.Errorf("jail %q action %q: %s%s: %w", a.jail, a.name, op, what, err)
}
