// Package firewall defines the seam between the ban manager and the packet
// filter: the Backend interface every driver (nftables, ipset, firewalld)
// implements, the jail and ban values it consumes, and the validation and
// port parsing shared by all drivers.
package firewall

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrInvalidJail reports a jail specification a backend cannot install.
	ErrInvalidJail = errors.New("invalid jail")
	// ErrInvalidAddress reports an address or prefix that must not be banned.
	ErrInvalidAddress = errors.New("invalid address")
	// ErrUnknownJail reports a ban for a jail that Setup did not install.
	ErrUnknownJail = errors.New("unknown jail")
	// ErrInvalidPort reports a port list that cannot be parsed.
	ErrInvalidPort = errors.New("invalid port")
	// ErrOverlap reports a network ban that overlaps another network ban of
	// the same jail; backends using interval sets cannot hold both.
	ErrOverlap = errors.New("overlapping network ban")
)

// Block types understood by every backend.
const (
	BlockReject = "reject" // refuse with an ICMP port-unreachable
	BlockDrop   = "drop"   // silently discard
)

// Chains a jail can be attached to.
const (
	ChainInput   = "input"
	ChainForward = "forward"
)

// Ban is one address or network blocked for one jail.
type Ban struct {
	Jail   string
	Prefix netip.Prefix
	// Expires is when the ban ends; the zero time means never.
	Expires time.Time
}

// String renders the ban for logs and error messages.
func (b Ban) String() string {
	if b.Expires.IsZero() {
		return b.Jail + " " + b.Prefix.String()
	}
	return b.Jail + " " + b.Prefix.String() + " until " + b.Expires.UTC().Format(time.RFC3339)
}

// JailSpec describes what a jail blocks once an address is banned.
type JailSpec struct {
	Name string
	// Ports limits the block to these destination ports; empty means all.
	Ports []PortRange
	// Protocols are transport protocols (tcp, udp, sctp, udplite, dccp) the
	// block applies to; empty or "all" means every protocol, which is only
	// allowed when Ports is empty.
	Protocols []string
	// Chain is "input" (the default when empty) or "forward".
	Chain string
	// BlockType is "reject" (the default when empty) or "drop".
	BlockType string
	// ChainName is the exact chain for backends that insert their rules
	// into named chains (iptables): fail2ban's "chain" option, such as
	// DOCKER-USER. Empty means INPUT or FORWARD as Chain says. Backends
	// with their own base chains (nftables) ignore it.
	ChainName string
	// Networks asks for sets able to hold network (prefix) bans. Backends
	// with one set per jail and family (ipset) make it a network set
	// (hash:net) instead of a host set (hash:ip); backends that always keep
	// both (nftables) ignore it.
	Networks bool
}

// Repair counts what a Healer found missing (Check) or put back (Heal).
type Repair struct {
	Objects int // tables, chains, sets and rules
	Bans    int // set elements
}

// Backend is a firewall driver. Every method that changes state applies its
// whole argument in one atomic step: either all of it is in place afterwards
// or none of it is. Implementations are safe for concurrent use.
type Backend interface {
	// Name identifies the backend in logs and configuration.
	Name() string
	// Setup creates or updates the table, sets and rules for jails. It is
	// idempotent and keeps bans of jails that stay; jails no longer listed
	// are removed with their bans.
	Setup(ctx context.Context, jails []JailSpec) error
	// Ban blocks every ban in one batch. Banning something already blocked
	// refreshes its expiry.
	Ban(ctx context.Context, bans []Ban) error
	// Unban lifts every ban in one batch; bans not in place are ignored.
	Unban(ctx context.Context, bans []Ban) error
	// List reports the bans in place now, read back from the firewall.
	List(ctx context.Context) ([]Ban, error)
	// Teardown removes everything the backend created.
	Teardown(ctx context.Context) error
}

// Healer is implemented by backends that can detect and undo outside
// changes, such as an administrator flushing the ruleset.
type Healer interface {
	// Check compares the firewall with the jails given to Setup and with
	// want, the bans that should be active, and counts what is missing.
	Check(ctx context.Context, want []Ban) (Repair, error)
	// Heal puts back everything Check would report, in one batch, and
	// returns what it put back.
	Heal(ctx context.Context, want []Ban) (Repair, error)
}

// Watcher is implemented by backends that learn when the firewall under
// them was reloaded or restarted (firewalld's Reloaded signal), which may
// have dropped their rules. The ban manager heals at once when Changed
// fires, without waiting for its next periodic round.
type Watcher interface {
	// Changed delivers a value after each such event; events that come
	// while one is pending are merged. The channel is never closed.
	Changed() <-chan struct{}
}

// ProtocolNumber returns the IANA number of a transport protocol a jail
// may name.
func ProtocolNumber(name string) (uint8, bool) {
	switch name {
	case "tcp":
		return 6, true
	case "udp":
		return 17, true
	case "dccp":
		return 33, true
	case "sctp":
		return 132, true
	case "udplite":
		return 136, true
	}
	return 0, false
}

// maxJailName bounds jail names so that derived set names stay well inside
// the kernel's identifier limits.
const maxJailName = 64

// ValidateJailName checks that name can be embedded in firewall object
// names: letters, digits, '_', '-' and '.', not starting with '-' or '.'.
func ValidateJailName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidJail)
	}
	if len(name) > maxJailName {
		return fmt.Errorf("%w %q: name longer than %d bytes", ErrInvalidJail, name, maxJailName)
	}
	for i, r := range name {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && (r == '-' || r == '.')
		if !ok {
			return fmt.Errorf("%w %q: character %q not allowed at offset %d", ErrInvalidJail, name, r, i)
		}
	}
	return nil
}

// Normalize validates s and returns it in canonical form: lower-case
// protocols, sorted and deduplicated, "all" turned into no protocols, merged
// port ranges (a range covering every port becomes no ports), and the chain
// and block type defaults filled in. Jails with ports but no protocol get
// tcp, as fail2ban does.
func (s JailSpec) Normalize() (JailSpec, error) {
	if err := ValidateJailName(s.Name); err != nil {
		return JailSpec{}, err
	}
	out := JailSpec{Name: s.Name, Networks: s.Networks, ChainName: s.ChainName}
	if err := validateChainName(s.ChainName); err != nil {
		return JailSpec{}, fmt.Errorf("%w %q: %v", ErrInvalidJail, s.Name, err)
	}
	out.Ports = MergePorts(s.Ports)
	if len(out.Ports) == 1 && out.Ports[0] == (PortRange{0, 65535}) {
		out.Ports = nil
	}
	all := false
	for _, p := range s.Protocols {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "all" {
			all = true
			continue
		}
		if _, ok := ProtocolNumber(p); !ok {
			return JailSpec{}, fmt.Errorf("%w %q: unknown protocol %q", ErrInvalidJail, s.Name, p)
		}
		out.Protocols = append(out.Protocols, p)
	}
	slices.Sort(out.Protocols)
	out.Protocols = slices.Compact(out.Protocols)
	if all {
		if len(s.Ports) > 0 && len(out.Ports) > 0 {
			return JailSpec{}, fmt.Errorf("%w %q: protocol \"all\" cannot be limited to ports", ErrInvalidJail, s.Name)
		}
		out.Protocols = nil
	} else if len(out.Ports) > 0 && len(out.Protocols) == 0 {
		out.Protocols = []string{"tcp"}
	}
	switch c := strings.ToLower(s.Chain); c {
	case "", ChainInput:
		out.Chain = ChainInput
	case ChainForward:
		out.Chain = ChainForward
	default:
		return JailSpec{}, fmt.Errorf("%w %q: chain %q is not input or forward", ErrInvalidJail, s.Name, s.Chain)
	}
	switch b := strings.ToLower(s.BlockType); b {
	case "", BlockReject:
		out.BlockType = BlockReject
	case BlockDrop:
		out.BlockType = BlockDrop
	default:
		return JailSpec{}, fmt.Errorf("%w %q: block type %q is not reject or drop", ErrInvalidJail, s.Name, s.BlockType)
	}
	return out, nil
}

// NormalizeJails normalizes every spec and rejects duplicate names.
func NormalizeJails(jails []JailSpec) ([]JailSpec, error) {
	out := make([]JailSpec, 0, len(jails))
	seen := make(map[string]bool, len(jails))
	for _, j := range jails {
		n, err := j.Normalize()
		if err != nil {
			return nil, err
		}
		if seen[n.Name] {
			return nil, fmt.Errorf("%w %q: listed twice", ErrInvalidJail, n.Name)
		}
		seen[n.Name] = true
		out = append(out, n)
	}
	return out, nil
}

// IndexJails returns the jails by name and their names in order: the
// bookkeeping a backend keeps of the jails its last Setup installed.
func IndexJails(jails []JailSpec) (map[string]JailSpec, []string) {
	byName := make(map[string]JailSpec, len(jails))
	order := make([]string, 0, len(jails))
	for _, j := range jails {
		byName[j.Name] = j
		order = append(order, j.Name)
	}
	return byName, order
}

// maxChainName is iptables' limit on chain names.
const maxChainName = 28

// validateChainName checks a ChainName: empty, or up to 28 letters,
// digits, '_', '-' and '.', not starting with '-'.
func validateChainName(name string) error {
	if len(name) > maxChainName {
		return fmt.Errorf("chain %q: longer than %d bytes", name, maxChainName)
	}
	for i, r := range name {
		ok := r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && r == '-'
		if !ok {
			return fmt.Errorf("chain %q: character %q not allowed at offset %d", name, r, i)
		}
	}
	return nil
}
