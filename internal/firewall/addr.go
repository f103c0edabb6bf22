package firewall

import (
	"fmt"
	"net/netip"
	"time"
)

// ValidatePrefix checks that p may be banned and returns it canonical: an
// IPv4-mapped IPv6 address becomes plain IPv4, zones are dropped and host
// bits are cleared. Rejected are invalid values, the unspecified address,
// prefixes of length 0 (everything), multicast and the IPv4 broadcast
// address: none can be the source of a connection, and banning them either
// does nothing or blocks the world. Loopback and private ranges are allowed;
// keeping them out is the jail's ignoreip policy, not the firewall's.
func ValidatePrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("%w: %q is not a valid address or prefix", ErrInvalidAddress, p.String())
	}
	a, bits := p.Addr().WithZone(""), p.Bits()
	if a.Is4In6() {
		if bits < 96 {
			return netip.Prefix{}, fmt.Errorf("%w: %s mixes IPv4-mapped and IPv6 space", ErrInvalidAddress, p)
		}
		a, bits = a.Unmap(), bits-96
	}
	if bits == 0 {
		return netip.Prefix{}, fmt.Errorf("%w: %s would block every address", ErrInvalidAddress, p)
	}
	q := netip.PrefixFrom(a, bits).Masked()
	switch {
	case q.Addr().IsUnspecified():
		return netip.Prefix{}, fmt.Errorf("%w: %s is the unspecified address", ErrInvalidAddress, p)
	case q.Addr().IsMulticast():
		return netip.Prefix{}, fmt.Errorf("%w: %s is multicast", ErrInvalidAddress, p)
	case q.Addr() == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Prefix{}, fmt.Errorf("%w: %s is the broadcast address", ErrInvalidAddress, p)
	}
	return q, nil
}

// ParseBanTarget parses an address ("192.0.2.7", "2001:db8::1") or a CIDR
// prefix ("192.0.2.0/24") and validates it with ValidatePrefix.
func ParseBanTarget(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if a, err := netip.ParseAddr(s); err == nil {
		p = netip.PrefixFrom(a, a.BitLen())
	} else if q, err2 := netip.ParsePrefix(s); err2 == nil {
		p = q
	} else {
		return netip.Prefix{}, fmt.Errorf("%w: %q is neither an address nor a prefix", ErrInvalidAddress, s)
	}
	return ValidatePrefix(p)
}

// NormalizeBans validates every ban and returns canonical copies: jail
// names checked, prefixes canonical. When the same jail and prefix appear
// more than once the latest expiry wins (zero, meaning never, beats any
// time). Order of first appearance is kept.
func NormalizeBans(bans []Ban) ([]Ban, error) {
	out := make([]Ban, 0, len(bans))
	// A fixed-size key hashes much faster than one holding the jail string,
	// which matters for batches of 100,000 bans.
	type key struct {
		addr [16]byte
		bits int16
		jail int32
	}
	jails := map[string]int32{} // validated jail names, numbered
	index := make(map[key]int, len(bans))
	for _, b := range bans {
		id, ok := jails[b.Jail]
		if !ok {
			if err := ValidateJailName(b.Jail); err != nil {
				return nil, fmt.Errorf("ban %s: %w", b.Prefix, err)
			}
			id = int32(len(jails))
			jails[b.Jail] = id
		}
		p, err := ValidatePrefix(b.Prefix)
		if err != nil {
			return nil, fmt.Errorf("ban in jail %q: %w", b.Jail, err)
		}
		k := key{p.Addr().As16(), int16(p.Bits()), id}
		if p.Addr().Is4() {
			k.bits += 128 // keep 1.2.3.4/32 apart from ::102:304/32
		}
		if i, ok := index[k]; ok {
			out[i].Expires = laterExpiry(out[i].Expires, b.Expires)
			continue
		}
		index[k] = len(out)
		out = append(out, Ban{Jail: b.Jail, Prefix: p, Expires: b.Expires})
	}
	return out, nil
}

func laterExpiry(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if b.After(a) {
		return b
	}
	return a
}
