package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
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

// NormalizeBans validates every ban and returns them canonical: jail
// names checked, prefixes canonical, each jail and prefix once. When the
// same jail and prefix appear more than once the latest expiry wins (zero,
// meaning never, beats any time). Order of first appearance is kept.
//
// When bans already is all that (what the ban manager passes: its table
// holds each jail and prefix once, validated), bans itself is returned, not
// a copy: a heal round's 100,000 wanted bans are not copied again. So the
// result may share the caller's array; callers treat it as read-only and
// copy before changing it, and never change bans in place either.
func NormalizeBans(bans []Ban) ([]Ban, error) {
	if isNormal(bans) {
		return bans, nil
	}
	return mergeBans(bans)
}

// isNormal reports whether bans are valid, canonical and free of
// duplicates; false sends them to mergeBans, which says what is wrong.
func isNormal(bans []Ban) bool {
	last := ""
	for i, b := range bans {
		if i == 0 || b.Jail != last {
			if ValidateJailName(b.Jail) != nil {
				return false
			}
			last = b.Jail
		}
		if p, err := ValidatePrefix(b.Prefix); err != nil || p != b.Prefix {
			return false
		}
	}
	return !hasDuplicates(bans)
}

// smallBatch is the size up to which hasDuplicates compares every pair:
// no allocation for the ban loop's usual batch of a few bans.
const smallBatch = 32

// hasDuplicates reports whether a jail and prefix appear twice in bans,
// whose prefixes are canonical. Larger lists are checked by sorting
// positions (4 bytes a ban) rather than with a map of keys (about 40
// bytes a ban), which at 100,000 bans would cost megabytes of a heal
// round's peak memory.
func hasDuplicates(bans []Ban) bool {
	if len(bans) <= smallBatch {
		for i := range bans {
			for j := i + 1; j < len(bans); j++ {
				if bans[i].Prefix == bans[j].Prefix && bans[i].Jail == bans[j].Jail {
					return true
				}
			}
		}
		return false
	}
	idx := make([]int32, len(bans))
	for i := range idx {
		idx[i] = int32(i)
	}
	cmp := func(x, y int32) int {
		a, b := &bans[x], &bans[y]
		if c := ComparePrefix(a.Prefix, b.Prefix); c != 0 {
			return c
		}
		return strings.Compare(a.Jail, b.Jail)
	}
	slices.SortFunc(idx, cmp)
	for i := 1; i < len(idx); i++ {
		if cmp(idx[i-1], idx[i]) == 0 {
			return true
		}
	}
	return false
}

// ComparePrefix orders canonical prefixes by address, then by length. It
// is netip.Prefix.Compare without the masking, which canonical prefixes do
// not need and sorts of 100,000 bans would pay for on every comparison.
func ComparePrefix(x, y netip.Prefix) int {
	if c := x.Addr().Compare(y.Addr()); c != 0 {
		return c
	}
	return x.Bits() - y.Bits()
}

// mergeBans is NormalizeBans for input that needs work: it validates each
// ban and builds canonical copies, merging duplicates.
func mergeBans(bans []Ban) ([]Ban, error) {
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
