package control

import (
	"fmt"
	"net/netip"
	"strings"
)

// Target is what one ban covers, a single address or a network, as the
// control protocol writes it: a single address (a /32 or /128) is its bare
// address ("192.0.2.1"), so fail2ban-compatible output is unchanged for
// ordinary bans, and a wider network is CIDR text with its host bits
// cleared ("2001:db8:1:2::/64"). This is the same text action.TicketAddr
// gives a ban for its <ip> tag. The zero Target is written as "".
type Target struct{ netip.Prefix }

// TargetOf returns the Target of p, masked. A zero p gives the zero Target.
func TargetOf(p netip.Prefix) Target {
	if !p.IsValid() {
		return Target{}
	}
	return Target{p.Masked()}
}

// AddrTarget returns the Target of one address.
func AddrTarget(a netip.Addr) Target {
	if !a.IsValid() {
		return Target{}
	}
	return Target{netip.PrefixFrom(a, a.BitLen())}
}

// String is the address for a single address and CIDR text otherwise.
func (t Target) String() string {
	switch {
	case !t.IsValid():
		return ""
	case t.IsSingleIP():
		return t.Addr().String()
	}
	return t.Prefix.String()
}

// AppendText appends String's text to b.
func (t Target) AppendText(b []byte) ([]byte, error) { return append(b, t.String()...), nil }

// MarshalText writes String's text.
func (t Target) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads what ParseTarget accepts; empty text gives the zero
// Target.
func (t *Target) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*t = Target{}
		return nil
	}
	p, err := ParseTarget(string(b))
	if err != nil {
		return err
	}
	*t = Target{p}
	return nil
}

// Covers reports whether every address of q is in t: t is q or a wider
// network holding it.
func (t Target) Covers(q netip.Prefix) bool {
	return t.IsValid() && q.IsValid() && t.Bits() <= q.Bits() && t.Contains(q.Addr())
}

// Targets wraps prefixes as Targets.
func Targets(ps []netip.Prefix) []Target {
	out := make([]Target, len(ps))
	for i, p := range ps {
		out[i] = TargetOf(p)
	}
	return out
}

// ParseTarget parses an address ("192.0.2.1") or a network
// ("2001:db8:1:2::/64") as the control protocol accepts them: no zone;
// IPv4-mapped IPv6 addresses and networks become IPv4; a network's host
// bits are cleared; a /0 is refused. An address gives a /32 or /128.
func ParseTarget(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w %q", ErrBadAddress, s)
	}
	a, bits := p.Addr(), p.Bits()
	if bits == 0 {
		return netip.Prefix{}, fmt.Errorf("%w %q: a /0 covers every address", ErrBadAddress, s)
	}
	if a.Is4In6() {
		if bits < 96 {
			return netip.Prefix{}, fmt.Errorf("%w %q: mixes IPv4-mapped and IPv6 space", ErrBadAddress, s)
		}
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// targetWord writes p the way ParseTarget reads it back.
func targetWord(p netip.Prefix) string { return TargetOf(p).String() }
