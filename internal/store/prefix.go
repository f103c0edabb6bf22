package store

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

// canonical returns the form a prefix is stored under: host bits cleared
// and an IPv4-mapped IPv6 prefix turned into plain IPv4, so one network is
// always one key.
func canonical(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// prefixText is the stored text of p: a bare address for a single host,
// CIDR notation otherwise.
func prefixText(p netip.Prefix) string {
	p = canonical(p)
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// parsePrefixText reads a stored or imported address text: a bare IPv4 or
// IPv6 address, or a CIDR prefix. The result is canonical.
func parsePrefixText(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: address %q: %w", ErrInvalid, s, err)
		}
		return canonical(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: address %q: %w", ErrInvalid, s, err)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%w: address %q: zoned addresses cannot be banned", ErrInvalid, s)
	}
	return canonical(netip.PrefixFrom(a, a.BitLen())), nil
}

// banData is the JSON object kept in the data column. Only matches is
// written; unknown members from other writers are ignored on read.
type banData struct {
	Matches []string `json:"matches,omitempty"`
}

// encodeData returns the data column for matches, keeping at most max of
// the newest lines.
func encodeData(matches []string, max int) (string, error) {
	if len(matches) > max {
		matches = matches[len(matches)-max:]
	}
	if len(matches) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(banData{Matches: matches})
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// decodeData reads the data column back into its matches.
func decodeData(s string) ([]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var d banData
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("ban data %.40q: %w", s, err)
	}
	return d.Matches, nil
}

// banSeconds is the stored form of a ban duration: -1 for ever, else whole
// seconds rounded up so a short positive ban never becomes zero.
func banSeconds(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(math.Ceil(d.Seconds()))
}

// banDuration is the inverse of banSeconds. Any negative value means for
// ever (fail2ban uses -2 for "unknown" in upgraded databases; the importer
// resolves that before it gets here).
func banDuration(sec int64) time.Duration {
	if sec < 0 {
		return -1
	}
	if sec > math.MaxInt64/int64(time.Second) {
		return math.MaxInt64 // about 292 years
	}
	return time.Duration(sec) * time.Second
}
