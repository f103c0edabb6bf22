package notify

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WhoisFunc looks an address up; it returns ErrWhoisOff when lookups are
// turned off.
type WhoisFunc func(ctx context.Context, a netip.Addr) (*Whois, error)

// Digest gathers the bans of one period for a single message. It is safe
// for concurrent use: actions Add, the mailer's goroutine Flushes.
type Digest struct {
	composer *Composer
	whois    WhoisFunc
	// MaxWhois bounds the whois lookups (for country and AS) made for one
	// digest; later addresses show "-". MaxEntries bounds the addresses
	// kept; further bans are only counted.
	maxWhois, maxEntries int
	whoisBudget          time.Duration

	mu      sync.Mutex
	since   time.Time
	entries map[digestKey]*Entry
	order   []digestKey
	extra   int // bans not kept because of maxEntries
}

type digestKey struct {
	p    netip.Prefix
	jail string
}

// DigestConfig configures a Digest.
type DigestConfig struct {
	Composer   *Composer // envelope of the digest message
	Whois      WhoisFunc // nil: no country/AS
	MaxWhois   int       // default 100
	MaxEntries int       // default 100000
	// WhoisBudget bounds the time spent on lookups per digest (default
	// one minute); addresses not looked up by then show "-".
	WhoisBudget time.Duration
	Since       time.Time // start of the first period
}

// NewDigest returns an empty digest.
func NewDigest(cfg DigestConfig) *Digest {
	if cfg.MaxWhois <= 0 {
		cfg.MaxWhois = 100
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100000
	}
	if cfg.WhoisBudget <= 0 {
		cfg.WhoisBudget = time.Minute
	}
	return &Digest{composer: cfg.Composer, whois: cfg.Whois, maxWhois: cfg.MaxWhois, maxEntries: cfg.MaxEntries,
		whoisBudget: cfg.WhoisBudget,
		since:       cfg.Since, entries: map[digestKey]*Entry{}}
}

// Add records one ban; a second ban of the same address in the same jail
// updates its line (last seen, failures, bans).
func (d *Digest) Add(e Entry) {
	p := e.Prefix
	if !p.IsValid() {
		p = netip.PrefixFrom(e.Addr, e.Addr.BitLen())
	}
	k := digestKey{p: p, jail: e.Jail}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.entries[k]; old != nil {
		old.Bans++
		old.Failures += e.Failures
		if e.LastSeen.After(old.LastSeen) {
			old.LastSeen = e.LastSeen
		}
		if !e.FirstSeen.IsZero() && e.FirstSeen.Before(old.FirstSeen) {
			old.FirstSeen = e.FirstSeen
		}
		return
	}
	if len(d.order) >= d.maxEntries {
		d.extra++
		return
	}
	if e.Bans == 0 {
		e.Bans = 1
	}
	if e.FirstSeen.IsZero() {
		e.FirstSeen = e.LastSeen
	}
	d.entries[k] = &e
	d.order = append(d.order, k)
}

// Len is the number of addresses waiting.
func (d *Digest) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.order)
}

// Flush empties the digest and returns its message, or nil when no ban
// came in since the last flush. Country and AS are looked up here, off the
// banning path.
func (d *Digest) Flush(ctx context.Context, now time.Time) *Message {
	d.mu.Lock()
	order, entries, extra, since := d.order, d.entries, d.extra, d.since
	d.order, d.entries, d.extra, d.since = nil, map[digestKey]*Entry{}, 0, now
	d.mu.Unlock()
	if len(order) == 0 {
		return nil
	}
	// The lookups share one minute at most, so a silent whois server
	// cannot hold the digest (and the mail queue behind it) for long.
	ctx, cancel := context.WithTimeout(ctx, d.whoisBudget)
	defer cancel()
	es := make([]Entry, 0, len(order))
	looked := map[netip.Addr]*Whois{}
	for _, k := range order {
		e := *entries[k]
		if d.whois != nil && e.Country == "" && e.AS == "" {
			a := k.p.Masked().Addr()
			w, seen := looked[a]
			if !seen && len(looked) < d.maxWhois && ctx.Err() == nil {
				w, _ = d.whois(ctx, a)
				looked[a] = w
			}
			if w != nil {
				e.Country, e.AS = w.Country, w.AS
			}
		}
		es = append(es, e)
	}
	m := d.composer.Digest(since, now, es)
	if extra > 0 {
		m.Body += fmt.Sprintf("\n%d more bans were not listed (at most %d addresses a digest).\n", extra, d.maxEntries)
	}
	return m
}

// AlertRule is one rule of [mail] alert: a ban matching any rule is mailed
// at once as well as listed in the digest.
type AlertRule struct {
	All         bool         // "all"
	Jail        string       // "jail:NAME"
	Net         netip.Prefix // "net:CIDR" or "net:ADDR"
	MinFailures int          // "failures:N": at least N failures
	MinBans     int          // "bancount:N": the address's Nth ban or later
}

// Alerts is the parsed alert option.
type Alerts []AlertRule

// ParseAlerts reads alert = rule, rule, ... (commas or spaces between
// rules; "none" or nothing means no alert).
func ParseAlerts(s string) (Alerts, error) {
	var out Alerts
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if strings.EqualFold(w, "none") {
			continue
		}
		if strings.EqualFold(w, "all") {
			out = append(out, AlertRule{All: true})
			continue
		}
		k, v, ok := strings.Cut(w, ":")
		if !ok || v == "" {
			return nil, fmt.Errorf("alert rule %q: want all, jail:NAME, net:CIDR, failures:N or bancount:N", w)
		}
		var r AlertRule
		switch strings.ToLower(k) {
		case "jail":
			r.Jail = v
		case "net":
			p, err := netip.ParsePrefix(v)
			if err != nil {
				a, aerr := netip.ParseAddr(v)
				if aerr != nil {
					return nil, fmt.Errorf("alert rule %q: %w", w, err)
				}
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			r.Net = p.Masked()
		case "failures", "bancount":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("alert rule %q: %s must be a whole number above 0", w, k)
			}
			if strings.ToLower(k) == "failures" {
				r.MinFailures = n
			} else {
				r.MinBans = n
			}
		default:
			return nil, fmt.Errorf("alert rule %q: unknown kind %q", w, k)
		}
		out = append(out, r)
	}
	return out, nil
}

// Match tells whether a ban calls for an immediate mail.
func (as Alerts) Match(jail string, a netip.Addr, failures, banCount int) bool {
	for _, r := range as {
		switch {
		case r.All:
			return true
		case r.Jail != "" && r.Jail == jail:
			return true
		case r.Net.IsValid() && a.IsValid() && r.Net.Contains(a.Unmap()):
			return true
		case r.MinFailures > 0 && failures >= r.MinFailures:
			return true
		case r.MinBans > 0 && banCount >= r.MinBans:
			return true
		}
	}
	return false
}
