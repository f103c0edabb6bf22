package action

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ErrBadAddress reports a ticket whose address cannot be written into a
// command: not valid, or carrying an IPv6 zone.
var ErrBadAddress = errors.New("address not usable in an action")

// Ticket carries a ban's dynamic values: everything the <tags> of
// actionban, actionunban and friends may ask for. The expensive values are
// callbacks, called only when a command uses their tag, once per
// operation.
type Ticket struct {
	// Addr is the banned address; Prefix, when valid, a banned network
	// (then <ip> is "192.0.2.0/24"). One of the two must be set.
	Addr   netip.Addr
	Prefix netip.Prefix
	// ID is fail2ban's ticket id (<fid>): the <F-ID> text when the filter
	// captured one, else the address. Empty means the address.
	ID       string
	Failures int       // <failures>
	Time     time.Time // <time>: the ticket's (last failure's) time
	// BanTime is this ban's duration (<bantime>, whole seconds; negative
	// means for ever, written as -1); zero means the action's default.
	BanTime  time.Duration
	BanCount int      // <bancount>
	Restored bool     // <restored>: re-applied from the database at start
	Matches  []string // <matches>, joined by newlines
	// Fields are the filter's captures by fail2ban's option name ("user",
	// "fid", "fport", ...) for <F-USER> etc.
	Fields map[string]string

	// IPMatches and IPJailMatches return the matched lines of this address
	// over all jails and in this jail (<ipmatches>, <ipjailmatches>);
	// IPFailures and IPJailFailures the failure counts. Nil means the
	// ticket's own Matches and Failures, as in fail2ban without a
	// database.
	IPMatches, IPJailMatches   func(ctx context.Context) []string
	IPFailures, IPJailFailures func(ctx context.Context) int
	// Host returns the address's DNS name for <ip-host>; nil or an error
	// gives "" (fail2ban writes "None").
	Host func(ctx context.Context, a netip.Addr) (string, error)
	// Extra answers other dynamic tags (jail.banned, jail.found_total, ...)
	// that the ban manager knows; nil means none.
	Extra func(tag string) (string, bool)
}

// TicketAddr is the address a ban of t is about and that ban's text, as
// commands (<ip>), mails and webhooks name it. A Prefix, when valid, wins
// over Addr: a /32 or /128 is its one address; a wider network gives its
// first address and is written with its host bits cleared
// ("192.0.2.0/24"), as fail2ban writes it. A ticket without an address
// gives the zero Addr and "".
func TicketAddr(t *Ticket) (netip.Addr, string) {
	switch p := t.Prefix; {
	case p.IsValid() && p.IsSingleIP():
		return p.Addr(), p.Addr().String()
	case p.IsValid():
		m := p.Masked()
		return m.Addr(), m.String()
	case t.Addr.IsValid():
		return t.Addr, t.Addr.String()
	}
	return netip.Addr{}, ""
}

// check tells whether the ticket's address may go into a command.
func (t *Ticket) check() error {
	a, _ := TicketAddr(t)
	if !a.IsValid() {
		return fmt.Errorf("%w: no address", ErrBadAddress)
	}
	if a.Zone() != "" {
		return fmt.Errorf("%w: %s has a zone", ErrBadAddress, a)
	}
	if t.Prefix.IsValid() && t.Prefix.Addr().Is4In6() {
		return fmt.Errorf("%w: %s is an IPv4-mapped network", ErrBadAddress, t.Prefix)
	}
	return nil
}

// family is fail2ban's family name of the address: inet4 or inet6.
func family(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return ""
	case a.Is4() || a.Is4In6():
		return "inet4"
	}
	return "inet6"
}

// ptrName is <ip-rev>: the reversed address, dot-terminated, without the
// in-addr.arpa/ip6.arpa suffix. For a network it is built from its text,
// as fail2ban does ("0/24.2.0.192.").
func ptrName(t *Ticket) string {
	a, text := TicketAddr(t)
	switch {
	case !a.IsValid():
		return ""
	case a.Is4() || a.Is4In6():
		parts := strings.Split(text, ".")
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		return strings.Join(parts, ".") + "."
	}
	b := a.As16()
	var sb strings.Builder
	const hex = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		sb.WriteByte(hex[b[i]&0xf])
		sb.WriteByte('.')
		sb.WriteByte(hex[b[i]>>4])
		sb.WriteByte('.')
	}
	return sb.String()
}

// pyFloat writes seconds the way Python's str() writes a float.
func pyFloat(t time.Time) string {
	if t.IsZero() {
		return "0.0"
	}
	s := strconv.FormatFloat(float64(t.Unix())+float64(t.Nanosecond())/1e9, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// tagValues answers the dynamic tags of one operation for t, calling the
// lazy callbacks at most once.
type tagValues struct {
	ctx     context.Context
	t       *Ticket
	family  string
	bantime time.Duration // the action's default when t.BanTime is 0
	cache   map[string]string
}

func (v *tagValues) value(tag string) (string, bool) {
	if s, ok := v.cache[tag]; ok {
		return s, true
	}
	s, ok := v.compute(tag)
	if ok {
		if v.cache == nil {
			v.cache = map[string]string{}
		}
		v.cache[tag] = s
	}
	return s, ok
}

func (v *tagValues) compute(tag string) (string, bool) {
	t := v.t
	switch tag {
	case "ip":
		_, s := TicketAddr(t)
		return s, true
	case "family":
		return v.family, true
	case "ip-rev":
		return ptrName(t), true
	case "ip-host":
		a, _ := TicketAddr(t)
		if t.Host == nil || !a.IsValid() {
			return "", true
		}
		h, err := t.Host(v.ctx, a)
		if err != nil {
			return "", true
		}
		return h, true
	case "fid":
		if t.ID != "" {
			return t.ID, true
		}
		_, s := TicketAddr(t)
		return s, true
	case "failures":
		return strconv.Itoa(t.Failures), true
	case "time":
		return pyFloat(t.Time), true
	case "bantime":
		d := t.BanTime
		if d == 0 {
			d = v.bantime
		}
		if d < 0 {
			return "-1", true
		}
		return strconv.FormatInt(int64(d/time.Second), 10), true
	case "bancount":
		return strconv.Itoa(t.BanCount), true
	case "restored":
		if t.Restored {
			return "1", true
		}
		return "0", true
	case "matches":
		return strings.Join(t.Matches, "\n"), true
	case "ipmatches":
		return strings.Join(v.lines(t.IPMatches), "\n"), true
	case "ipjailmatches":
		return strings.Join(v.lines(t.IPJailMatches), "\n"), true
	case "ipfailures":
		return strconv.Itoa(v.count(t.IPFailures)), true
	case "ipjailfailures":
		return strconv.Itoa(v.count(t.IPJailFailures)), true
	}
	if t.Extra != nil {
		return t.Extra(tag)
	}
	return "", false
}

func (v *tagValues) lines(f func(context.Context) []string) []string {
	if f == nil {
		return v.t.Matches
	}
	return f(v.ctx)
}

func (v *tagValues) count(f func(context.Context) int) int {
	if f == nil {
		return v.t.Failures
	}
	return f(v.ctx)
}

func (v *tagValues) field(name string) string {
	return v.t.Fields[name]
}
