package server

import (
	"net/netip"

	"warden/internal/action"
	"warden/internal/ban"
)

// banLister is the part of the ban manager that status lists and lookups
// read.
type banLister interface {
	IsBanned(jail string, p netip.Prefix) bool
	Banned(jail string) ([]netip.Prefix, error)
}

var _ banLister = (*ban.Manager)(nil)

// overlapping lists the bans in jail that overlap q, which is how the
// control commands given an address or network find bans: the ban on q
// itself or on a wider network holding it (so an address inside a prefix
// ban finds the prefix ban), and, when q is a network, the narrower bans
// inside it. Wider bans are found with one lookup per prefix length; only
// a network query scans the jail's list.
func overlapping(m banLister, jail string, q netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for bits := q.Bits(); bits >= 1; bits-- {
		p := netip.PrefixFrom(q.Addr(), bits).Masked()
		if m.IsBanned(jail, p) {
			out = append(out, p)
		}
	}
	if q.IsSingleIP() {
		return out
	}
	all, _ := m.Banned(jail)
	for _, p := range all {
		if p.Bits() > q.Bits() && q.Contains(p.Addr()) {
			out = append(out, p)
		}
	}
	return out
}

// appendNew appends the prefixes of add not yet in out.
func appendNew(out []netip.Prefix, seen map[netip.Prefix]bool, add ...netip.Prefix) []netip.Prefix {
	for _, p := range add {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// prefixStrings writes bans as status lists show them: a single address
// bare, a network as CIDR (action.TicketAddr's text for the ban's <ip>).
func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		_, out[i] = action.TicketAddr(&action.Ticket{Prefix: p})
	}
	return out
}
