// Package firewalld is warden's firewalld backend. It talks to a running
// firewalld over its D-Bus API (github.com/godbus/dbus/v5) and changes only
// the runtime configuration, as fail2ban's firewallcmd-* actions do.
//
// Where the bans live is a decision: each jail gets one kernel ipset per
// address family (hash:net with timeouts, wfd4-<jail> and wfd6-<jail>),
// written in one batch with `ipset restore` (package kernelset), and
// firewalld holds one runtime direct rule per jail, family and protocol
// that matches the set on the jail's ports and rejects or drops. Banning
// 100,000 addresses is then one ipset process and no D-Bus call, and the
// kernel drops each element at its end even if warden is gone. A direct or
// rich rule per address, as fail2ban's firewallcmd-new adds, costs a D-Bus
// call and a firewalld rule rewrite each and does not scale; firewalld 1.x
// cannot create ipsets at runtime, only permanent ones (written under
// /etc/firewalld, which fail2ban's actions never touch).
//
// So `firewall-cmd --direct --get-all-rules` shows the jail's rule naming
// its set, not the addresses; `ipset list wfd4-<jail>` or `ipset test`
// shows them, `nft list ruleset` shows the rule (as iptables-nft's xt set
// match), and `warden client status` lists the bans. Users who need
// fail2ban's per-address rules exactly run the server with
// --shell-actions, which runs fail2ban's own firewallcmd-* commands
// (docs/KNOWN-GAPS.md).
//
// `firewall-cmd --reload` drops runtime direct rules (FlushAllOnReload) but
// leaves the kernel sets alone; the backend implements firewall.Watcher
// (a Watch: firewalld's Reloaded signal, and firewalld (re)starting),
// and firewall.Healer, which puts missing rules, sets and elements back. A
// Watch on its own serves the shell actions, whose actioncheck the ban
// manager runs when it fires.
package firewalld

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"warden/internal/firewall"
)

// D-Bus names of firewalld's API.
const (
	BusName         = "org.fedoraproject.FirewallD1"
	objectPath      = "/org/fedoraproject/FirewallD1"
	ifaceMain       = "org.fedoraproject.FirewallD1"
	ifaceDirect     = "org.fedoraproject.FirewallD1.direct"
	signalReloaded  = "Reloaded"
	dbusIface       = "org.freedesktop.DBus"
	dbusOwnerChange = "NameOwnerChanged"
)

// DefaultSetPrefix starts the name of every kernel set the backend creates.
const DefaultSetPrefix = "wfd"

// Options configure a Backend.
type Options struct {
	// Conn is the system bus connection to use; nil: a new connection to
	// the system bus (DBUS_SYSTEM_BUS_ADDRESS when set), closed by Close.
	Conn *dbus.Conn
	// IPSet is the command that runs the ipset tool, for instance
	// {"ip", "netns", "exec", "ns1", "ipset"}; nil: {"ipset"}. It must act
	// in firewalld's network namespace.
	IPSet []string
	// SetPrefix starts the kernel set names; DefaultSetPrefix when empty.
	SetPrefix string
	// Logger receives debug and warning messages; slog.Default() when nil.
	Logger *slog.Logger
}

// Backend implements firewall.Backend, firewall.Healer and firewall.Watcher
// with firewalld.
type Backend struct {
	conn    *dbus.Conn
	ownConn bool
	obj     dbus.BusObject
	ipset   []string
	prefix  string
	log     *slog.Logger

	// watch tells of firewalld reloading or starting; closed by Close.
	watch     *Watch
	closeOnce sync.Once

	mu    sync.Mutex // serialises changes; guards the fields below
	jails map[string]firewall.JailSpec
	order []string
	// changes tells a heal, which reads the sets without mu, what our
	// own Ban, Unban and Setup changed meanwhile.
	changes firewall.ChangeLog
	hooks   healHooks // tests only
}

// healHooks let a test act while a heal reads the sets without the lock.
type healHooks struct {
	readDone func() // the read is done; the lock is not yet taken
}

var (
	_ firewall.Backend = (*Backend)(nil)
	_ firewall.Healer  = (*Backend)(nil)
	_ firewall.Watcher = (*Backend)(nil)
)

// New connects to the system bus and subscribes to firewalld's signals. It
// changes nothing until Setup; it does not require firewalld to run yet.
func New(opts Options) (*Backend, error) {
	b := &Backend{
		conn: opts.Conn, ipset: opts.IPSet, prefix: opts.SetPrefix, log: opts.Logger,
		jails: map[string]firewall.JailSpec{},
	}
	if b.prefix == "" {
		b.prefix = DefaultSetPrefix
	}
	if err := firewall.ValidateJailName(b.prefix); err != nil || len(b.prefix) > 8 {
		return nil, fmt.Errorf("firewalld: set prefix %q: want up to 8 letters or digits", b.prefix)
	}
	if len(b.ipset) == 0 {
		b.ipset = []string{"ipset"}
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.log = b.log.With("backend", "firewalld")
	if b.conn == nil {
		c, err := dbus.ConnectSystemBus()
		if err != nil {
			return nil, fmt.Errorf("firewalld: connect to the system bus: %w", err)
		}
		b.conn, b.ownConn = c, true
	}
	b.obj = b.conn.Object(BusName, objectPath)
	w, err := NewWatch(b.conn, b.log)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.watch = w
	return b, nil
}

// Changed implements firewall.Watcher: it fires after firewalld reloaded
// or started, when runtime rules may be gone.
func (b *Backend) Changed() <-chan struct{} { return b.watch.Changed() }

// Close stops watching firewalld's signals and releases the bus
// connection if New opened it; firewall state stays.
func (b *Backend) Close() error {
	var err error
	b.closeOnce.Do(func() {
		if b.watch != nil {
			b.watch.Close()
		}
		if b.ownConn {
			err = b.conn.Close()
		}
	})
	return err
}

// Name implements firewall.Backend.
func (b *Backend) Name() string { return "firewalld" }

// Running reports whether firewalld owns its bus name on conn.
func Running(ctx context.Context, conn *dbus.Conn) bool {
	var has bool
	err := conn.BusObject().CallWithContext(ctx, dbusIface+".NameHasOwner", 0, BusName).Store(&has)
	return err == nil && has
}

// Setup implements firewall.Backend. It creates each jail's two kernel sets
// (keeping their elements when they exist), then makes firewalld's direct
// rules match: missing rules of the jails are added, our rules of jails no
// longer listed (or with other ports) are removed, and the sets of jails
// no longer listed are destroyed.
func (b *Backend) Setup(ctx context.Context, jails []firewall.JailSpec) error {
	specs, err := firewall.NormalizeJails(jails)
	if err != nil {
		return fmt.Errorf("firewalld: setup: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes.Reset() // a heal reading meanwhile reads again
	var restore strings.Builder
	for _, j := range specs {
		for _, v6 := range []bool{false, true} {
			writeCreate(&restore, setName(b.prefix, j.Name, v6), v6)
		}
	}
	if err := b.runIPSet(ctx, []byte(restore.String()), "restore"); err != nil {
		return fmt.Errorf("firewalld: setup: %w", err)
	}
	want := map[string]directRule{}
	for _, j := range specs {
		for _, r := range jailRules(b.prefix, j) {
			want[r.key()] = r
		}
	}
	have, err := b.ourRules(ctx)
	if err != nil {
		return fmt.Errorf("firewalld: setup: %w", err)
	}
	for k, r := range have {
		if _, ok := want[k]; !ok {
			if err := b.removeRule(ctx, r); err != nil {
				return fmt.Errorf("firewalld: setup: %w", err)
			}
		}
	}
	for _, r := range sortedRules(want) {
		if _, ok := have[r.key()]; !ok {
			if err := b.addRule(ctx, r); err != nil {
				return fmt.Errorf("firewalld: setup: %w", err)
			}
		}
	}
	keep := map[string]bool{}
	for _, j := range specs {
		keep[setName(b.prefix, j.Name, false)] = true
		keep[setName(b.prefix, j.Name, true)] = true
	}
	if err := b.destroySets(ctx, func(name string) bool { return !keep[name] }); err != nil {
		return fmt.Errorf("firewalld: setup: %w", err)
	}
	b.jails, b.order = firewall.IndexJails(specs)
	b.log.Debug("setup done", "jails", len(specs), "rules", len(want))
	return nil
}

// Teardown implements firewall.Backend: it removes every direct rule that
// matches one of our sets, then destroys the sets.
func (b *Backend) Teardown(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes.Reset() // a heal reading meanwhile reads again
	have, err := b.ourRules(ctx)
	if err != nil && !errors.Is(err, ErrNotRunning) {
		return fmt.Errorf("firewalld: teardown: %w", err)
	}
	for _, r := range sortedRules(have) {
		if err := b.removeRule(ctx, r); err != nil {
			return fmt.Errorf("firewalld: teardown: %w", err)
		}
	}
	if err := b.destroySets(ctx, func(string) bool { return true }); err != nil {
		return fmt.Errorf("firewalld: teardown: %w", err)
	}
	b.jails = map[string]firewall.JailSpec{}
	b.order = nil
	return nil
}

// ErrNotRunning reports that firewalld does not answer on the bus.
var ErrNotRunning = errors.New("firewalld is not running")

// call invokes a firewalld method, turning "no owner" into ErrNotRunning.
func (b *Backend) call(ctx context.Context, method string, args ...any) *dbus.Call {
	c := b.obj.CallWithContext(ctx, method, 0, args...)
	var de dbus.Error
	if c.Err != nil && errors.As(c.Err, &de) && de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" {
		c.Err = fmt.Errorf("%w: %w", ErrNotRunning, c.Err)
	}
	return c
}

// ourRules reads firewalld's runtime direct rules and keeps those matching
// one of our sets.
func (b *Backend) ourRules(ctx context.Context) (map[string]directRule, error) {
	var all []directRule
	if err := b.call(ctx, ifaceDirect+".getAllRules").Store(&all); err != nil {
		return nil, fmt.Errorf("direct.getAllRules: %w", err)
	}
	out := map[string]directRule{}
	for _, r := range all {
		if s := r.matchSet(); s != "" && ownedSet(b.prefix, s) {
			out[r.key()] = r
		}
	}
	return out, nil
}

func (b *Backend) addRule(ctx context.Context, r directRule) error {
	if err := b.call(ctx, ifaceDirect+".addRule", r.IPV, r.Table, r.Chain, r.Priority, r.Args).Err; err != nil {
		return fmt.Errorf("direct.addRule %s: %w", r, err)
	}
	return nil
}

func (b *Backend) removeRule(ctx context.Context, r directRule) error {
	if err := b.call(ctx, ifaceDirect+".removeRule", r.IPV, r.Table, r.Chain, r.Priority, r.Args).Err; err != nil {
		return fmt.Errorf("direct.removeRule %s: %w", r, err)
	}
	return nil
}

func sortedRules(m map[string]directRule) []directRule {
	out := make([]directRule, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b directRule) int { return strings.Compare(a.key(), b.key()) })
	return out
}
