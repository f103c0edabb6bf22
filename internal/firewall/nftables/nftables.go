// Package nftables is warden's native firewall backend: it drives the
// kernel's nf_tables over netlink (github.com/google/nftables), without
// spawning the nft tool.
//
// Everything lives in one inet table (default "warden"). Each jail gets,
// per address family, a hash set of single addresses (addr4-<jail>,
// addr6-<jail>) and an interval set of networks (net4-<jail>, net6-<jail>),
// all with the timeout flag so every element carries its remaining ban
// time and the kernel drops it even if warden is gone. A base chain per
// hook (input, forward) at priority filter-1 holds one rule per set that
// matches the jail's protocols and ports and rejects or drops. Every
// change is queued and committed as one netlink transaction.
//
// Methods check their context before starting; a netlink transaction, once
// sent, is not interruptible. Reading a set back (List, Check, Heal, and
// Ban of networks) costs more than writing it: the kernel's set dump
// restarts its walk for every 32 KiB message (about 0.25 s of CPU for
// 100,000 elements, read streaming, see dump.go), and a commit landing
// between two messages can make the walk skip elements.
package nftables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	nft "github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"warden/internal/firewall"
)

// DefaultTable is the table name used when Options.Table is empty.
const DefaultTable = "warden"

// chainPriority places our base chains just before the usual filter chains
// (priority filter - 1), so a ban wins over an accept elsewhere.
const chainPriority = -1

// Socket buffer sizes. A batch of 100,000 IPv6 elements is about 5 MiB of
// netlink messages and must fit the send buffer in one sendmsg; dumps of
// large sets need a roomy receive buffer.
const (
	sendBufferBytes = 64 << 20
	recvBufferBytes = 16 << 20
)

// Options configure a Backend.
type Options struct {
	// Table is the inet table warden owns; DefaultTable when empty.
	Table string
	// NetNS is a file descriptor of the network namespace to work in;
	// 0 means the caller's namespace. The caller keeps ownership.
	NetNS int
	// Logger receives debug and warning messages; slog.Default() when nil.
	Logger *slog.Logger
}

// Backend implements firewall.Backend and firewall.Healer with nf_tables.
type Backend struct {
	table *nft.Table
	log   *slog.Logger
	netns int

	mu   sync.Mutex // serialises batches; guards conn and jails
	conn *nft.Conn
	raw  *netlink.Conn // for reading sets back and element batches; opened when first needed
	// elemBuf and ackBuf are an element batch's buffers (batch.go), kept
	// between batches; seq numbers its messages.
	elemBuf, ackBuf []byte
	seq             uint32
	jails           map[string]firewall.JailSpec // as installed by the last Setup
	order           []string                     // jail names in Setup order
	// changes tells a heal, which reads the sets without mu, what our
	// own Ban, Unban and Setup changed meanwhile.
	changes firewall.ChangeLog
	hooks   healHooks // tests only
}

// healHooks let a test act while a heal reads the sets without the lock.
type healHooks struct {
	readStart func() // the read is about to start
	readDone  func() // the read is done; the lock is not yet taken
	readElem  func() // the read decoded an element
	// confirmed is told how many of the bans a read lacked were checked
	// again under the lock, and how many of them are really missing.
	confirmed func(checked, missing int)
}

var (
	_ firewall.Backend = (*Backend)(nil)
	_ firewall.Healer  = (*Backend)(nil)
)

// New opens a netlink connection to nf_tables. It changes nothing in the
// kernel until Setup is called.
func New(opts Options) (*Backend, error) {
	name := opts.Table
	if name == "" {
		name = DefaultTable
	}
	if err := firewall.ValidateJailName(name); err != nil {
		return nil, fmt.Errorf("nftables: table name: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	b := &Backend{
		table: &nft.Table{Name: name, Family: nft.TableFamilyINet},
		log:   log.With("backend", "nftables", "table", name),
		netns: opts.NetNS,
		jails: map[string]firewall.JailSpec{},
	}
	conn, err := b.dial()
	if err != nil {
		return nil, err
	}
	b.conn = conn
	return b, nil
}

func (b *Backend) dial() (*nft.Conn, error) {
	opts := []nft.ConnOption{nft.AsLasting(), nft.WithSockOptions(tuneSocket)}
	if b.netns != 0 {
		opts = append(opts, nft.WithNetNSFd(b.netns))
	}
	c, err := nft.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: open netlink: %w", err)
	}
	return c, nil
}

// tuneSocket enlarges the socket buffers (forcing past the sysctl limits
// when we hold CAP_NET_ADMIN) and asks for short acknowledgements, so that
// an error does not echo a whole 64 KiB message back.
func tuneSocket(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	cerr := raw.Control(func(fd uintptr) {
		for _, o := range []struct{ force, plain, size int }{
			{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, sendBufferBytes},
			{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, recvBufferBytes},
		} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o.force, o.size) != nil {
				if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o.plain, o.size); err != nil {
					serr = err
				}
			}
		}
	})
	if cerr != nil {
		return cerr
	}
	if serr != nil {
		return fmt.Errorf("socket buffer: %w", serr)
	}
	return c.SetOption(netlink.CapAcknowledge, true)
}

// Close releases the netlink connection; the firewall state stays.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropRaw()
	return b.conn.CloseLasting()
}

// rawConn returns b.raw, opening it if need be. The caller holds b.mu.
func (b *Backend) rawConn() (*netlink.Conn, error) {
	if b.raw == nil {
		c, err := b.dialRaw()
		if err != nil {
			return nil, err
		}
		b.raw = c
	}
	return b.raw, nil
}

// dropRaw closes b.raw, after an error that may have left answers unread
// on it. The caller holds b.mu.
func (b *Backend) dropRaw() {
	if b.raw != nil {
		_ = b.raw.Close()
		b.raw = nil
	}
}

// Name implements firewall.Backend.
func (b *Backend) Name() string { return "nftables" }

// Table returns the name of the table the backend owns.
func (b *Backend) Table() string { return b.table.Name }

// flush commits the queued batch. After a failed batch the connection is
// replaced: the library keeps a sticky marshalling error, and a fresh socket
// also guarantees no stale acknowledgements are read by the next request.
func (b *Backend) flush(what string) error {
	err := b.conn.Flush()
	if err == nil {
		return nil
	}
	b.redial()
	return fmt.Errorf("nftables: %s: %w", what, err)
}

// abort drops whatever was queued before a queueing error.
func (b *Backend) abort(what string, err error) error {
	b.redial()
	return fmt.Errorf("nftables: %s: %w", what, err)
}

func (b *Backend) redial() {
	_ = b.conn.CloseLasting()
	c, err := b.dial()
	if err != nil {
		b.log.Warn("reopen netlink failed; using per-request sockets", "err", err)
		c = &nft.Conn{NetNS: b.netns}
	}
	b.conn = c
}

// setKind says which of a jail's four sets an element belongs to.
type setKind struct {
	v6  bool // ipv6_addr rather than ipv4_addr
	net bool // interval set of networks rather than hash set of hosts
}

var allKinds = []setKind{{false, false}, {true, false}, {false, true}, {true, true}}

func (k setKind) prefix() string {
	switch {
	case k.net && k.v6:
		return "net6-"
	case k.net:
		return "net4-"
	case k.v6:
		return "addr6-"
	default:
		return "addr4-"
	}
}

func setName(jail string, k setKind) string { return k.prefix() + jail }

// parseSetName reverses setName; ok is false for sets we did not create.
func parseSetName(name string) (jail string, k setKind, ok bool) {
	for _, k := range allKinds {
		if j, found := strings.CutPrefix(name, k.prefix()); found && firewall.ValidateJailName(j) == nil {
			return j, k, true
		}
	}
	return "", setKind{}, false
}

func (b *Backend) newSet(jail string, k setKind) *nft.Set {
	s := &nft.Set{Table: b.table, Name: setName(jail, k), HasTimeout: true, Interval: k.net, KeyType: nft.TypeIPAddr}
	if k.v6 {
		s.KeyType = nft.TypeIP6Addr
	}
	return s
}

func (b *Backend) chain(name string) *nft.Chain {
	hook := nft.ChainHookInput
	if name == firewall.ChainForward {
		hook = nft.ChainHookForward
	}
	return &nft.Chain{
		Name: name, Table: b.table, Type: nft.ChainTypeFilter,
		Hooknum: hook, Priority: nft.ChainPriorityRef(chainPriority),
	}
}

// tableExists reports whether our table is present.
func (b *Backend) tableExists() (bool, error) {
	_, err := b.conn.ListTableOfFamily(b.table.Name, b.table.Family)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return false, fmt.Errorf("nftables: list table: %w", err)
}

// ourChains lists the chains in our table by name.
func (b *Backend) ourChains() (map[string]*nft.Chain, error) {
	all, err := b.conn.ListChainsOfTableFamily(b.table.Family)
	if err != nil {
		return nil, fmt.Errorf("nftables: list chains: %w", err)
	}
	out := map[string]*nft.Chain{}
	for _, c := range all {
		if c.Table != nil && c.Table.Name == b.table.Name {
			out[c.Name] = c
		}
	}
	return out, nil
}

// ourSets lists the named sets of our table.
func (b *Backend) ourSets() (map[string]*nft.Set, error) {
	sets, err := b.conn.GetSets(b.table)
	if err != nil {
		return nil, fmt.Errorf("nftables: list sets: %w", err)
	}
	out := map[string]*nft.Set{}
	for _, s := range sets {
		if !s.Anonymous {
			s.Table = b.table
			out[s.Name] = s
		}
	}
	return out, nil
}

// Setup implements firewall.Backend. One transaction creates the table,
// the chains the jails need and their sets, replaces the rules, and removes
// sets and chains of jails that are gone. Sets of remaining jails keep
// their elements.
func (b *Backend) Setup(ctx context.Context, jails []firewall.JailSpec) error {
	specs, err := firewall.NormalizeJails(jails)
	if err != nil {
		return fmt.Errorf("nftables: setup: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes.Reset() // a heal reading meanwhile reads again

	exists, err := b.tableExists()
	if err != nil {
		return err
	}
	oldChains := map[string]*nft.Chain{}
	oldSets := map[string]*nft.Set{}
	if exists {
		if oldChains, err = b.ourChains(); err != nil {
			return err
		}
		if oldSets, err = b.ourSets(); err != nil {
			return err
		}
	}

	wantChains := map[string]bool{}
	wantSets := map[string]bool{}
	for _, j := range specs {
		wantChains[j.Chain] = true
		for _, k := range allKinds {
			wantSets[setName(j.Name, k)] = true
		}
	}

	b.conn.AddTable(b.table)
	for _, name := range []string{firewall.ChainInput, firewall.ChainForward} {
		if wantChains[name] {
			c := b.conn.AddChain(b.chain(name))
			b.conn.FlushChain(c)
		}
	}
	for name, c := range oldChains {
		if !wantChains[name] {
			c.Table = b.table
			b.conn.FlushChain(c)
			b.conn.DelChain(c)
		}
	}
	for _, j := range specs {
		for _, k := range allKinds {
			if err := b.conn.AddSet(b.newSet(j.Name, k), nil); err != nil {
				return b.abort("setup", err)
			}
		}
	}
	for name, s := range oldSets {
		if !wantSets[name] {
			b.conn.DelSet(s)
		}
	}
	for _, j := range specs {
		for _, k := range allKinds {
			if err := b.addRule(j, k); err != nil {
				return b.abort("setup", err)
			}
		}
	}
	if err := b.flush("setup"); err != nil {
		return err
	}
	b.jails, b.order = firewall.IndexJails(specs)
	b.log.Debug("setup done", "jails", len(specs))
	return nil
}

// Teardown implements firewall.Backend: it deletes the table, and with it
// every chain, set and ban, in one transaction.
func (b *Backend) Teardown(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes.Reset()
	exists, err := b.tableExists()
	if err != nil {
		return err
	}
	b.jails = map[string]firewall.JailSpec{}
	b.order = nil
	if !exists {
		return nil
	}
	b.conn.DelTable(b.table)
	return b.flush("teardown")
}
