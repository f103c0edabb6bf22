// Package ipset is warden's iptables + ipset firewall backend, for hosts
// that filter with iptables (iptables-nft or iptables-legacy) rather than
// with nftables directly.
//
// Each jail gets one ipset per address family, named as fail2ban names them
// (f2b-<jail> and f2b-<jail>6, shortened with a hash when longer than the
// kernel's 31 characters), of type hash:ip, or hash:net when the jail asks
// for network bans. Sets carry the timeout extension: every element holds
// its remaining ban time so the kernel drops it even if warden is gone.
// One iptables (ip6tables) rule per jail, family and protocol, inserted at
// the top of the jail's chain and tagged with the comment "warden:<jail>",
// matches the set as source and rejects or drops.
//
// The backend runs the ipset and iptables tools as argument vectors (never
// through a shell), one process per batch: set changes go to "ipset
// restore" and rule changes to "iptables-restore --noflush" on stdin. Rule
// batches are atomic; an ipset restore batch stops at its first failing
// line, so every address is validated before a batch is written and the
// only failures left are kernel limits (a full set).
//
// On a host where ip6tables does not answer (no IPv6 filtering) Setup
// logs a warning and the backend filters IPv4 only, refusing IPv6 bans.
package ipset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"

	"warden/internal/firewall"
	"warden/internal/firewall/kernelset"
)

// Defaults for Options.
const (
	DefaultIPSet     = "ipset"
	DefaultIPTables  = "iptables"
	DefaultIP6Tables = "ip6tables"
	// DefaultMaxElem bounds each set; ipset's own default (65536) is too
	// small for a large ban list.
	DefaultMaxElem = 1 << 20
)

// maxSetName is the longest ipset name the kernel accepts.
const maxSetName = 31

// ErrCommand reports a tool that failed; the error text carries its output.
var ErrCommand = kernelset.ErrCommand

// Options configure a Backend.
type Options struct {
	// IPSet, IPTables and IP6Tables name the tools; the defaults are
	// "ipset", "iptables" and "ip6tables" (whatever the host's alternatives
	// point at). Naming "iptables-legacy" or "iptables-nft" picks a
	// variant. The restore tool is the same name with "-restore" appended.
	IPSet, IPTables, IP6Tables string
	// Prefix is prepended to every command, for instance
	// {"ip", "netns", "exec", "ns1"} in tests; empty in production.
	Prefix []string
	// MaxElem is the maxelem of new sets; DefaultMaxElem when zero.
	MaxElem int
	// Logger receives debug and warning messages; slog.Default() when nil.
	Logger *slog.Logger
}

// Backend implements firewall.Backend and firewall.Healer with ipset and
// iptables.
type Backend struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex                   // serialises batches; guards jails, order, types
	jails map[string]firewall.JailSpec // as installed by the last Setup
	order []string                     // jail names in Setup order
	types map[string]string            // set name -> hash:ip or hash:net, as in the kernel
	names map[string]jailFamily        // set name -> jail and family, for installed jails
	// v6 is false when ip6tables did not answer at the last Setup: the
	// host filters IPv4 only, and IPv6 bans are refused.
	v6 bool
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
)

// jailFamily names one of a jail's two sets.
type jailFamily struct {
	jail string
	v6   bool
}

// New returns a Backend. It changes nothing until Setup is called.
func New(opts Options) (*Backend, error) {
	if opts.IPSet == "" {
		opts.IPSet = DefaultIPSet
	}
	if opts.IPTables == "" {
		opts.IPTables = DefaultIPTables
	}
	if opts.IP6Tables == "" {
		opts.IP6Tables = DefaultIP6Tables
	}
	if opts.MaxElem <= 0 {
		opts.MaxElem = DefaultMaxElem
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Backend{
		opts:  opts,
		log:   log.With("backend", "ipset", "iptables", opts.IPTables),
		jails: map[string]firewall.JailSpec{},
		types: map[string]string{},
		names: map[string]jailFamily{},
		v6:    true,
	}, nil
}

// Name implements firewall.Backend.
func (b *Backend) Name() string { return "ipset" }

// Available reports whether the tools can be run: ipset and iptables
// answer --version (ip6tables is optional, see Setup).
func (b *Backend) Available(ctx context.Context) bool {
	for _, tool := range []string{b.opts.IPSet, b.opts.IPTables} {
		if _, err := b.run(ctx, tool, nil, "--version"); err != nil {
			return false
		}
	}
	return true
}

// SetName returns the ipset name of a jail's set for one family: f2b-<jail>
// and f2b-<jail>6 as fail2ban names them, or, when that is longer than 31
// characters, the jail name cut short and followed by "~" and a hash of
// all of it ("~" cannot occur in a jail name, so a shortened name is never
// mistaken for a jail's own).
func SetName(jail string, v6 bool) string {
	suffix := ""
	if v6 {
		suffix = "6"
	}
	// Both families are cut alike, decided by the longer IPv6 name.
	if len("f2b-"+jail+"6") <= maxSetName {
		return "f2b-" + jail + suffix
	}
	sum := sha256.Sum256([]byte(jail))
	tag := "~" + hex.EncodeToString(sum[:4])
	keep := maxSetName - len("f2b-") - len(tag) - 1 // room for the "6" of either family
	return "f2b-" + jail[:keep] + tag + suffix
}

// comment tags the rules of one jail.
func comment(jail string) string { return "warden:" + jail }

// run executes tool with args (after the prefix), feeding stdin, and
// returns its standard output.
func (b *Backend) run(ctx context.Context, tool string, stdin []byte, args ...string) ([]byte, error) {
	argv := append(append([]string(nil), b.opts.Prefix...), tool)
	out, err := kernelset.Run(ctx, argv, stdin, args...)
	if err != nil {
		return out, fmt.Errorf("ipset: %w", err)
	}
	return out, nil
}

// families lists the address families in use: IPv4, and IPv6 unless
// ip6tables is unusable.
func (b *Backend) families() []bool {
	if b.v6 {
		return []bool{false, true}
	}
	return []bool{false}
}

// iptables returns the rule tool for a family.
func (b *Backend) iptables(v6 bool) string {
	if v6 {
		return b.opts.IP6Tables
	}
	return b.opts.IPTables
}
