// Package whois is warden's own RFC 3912 whois client: it asks a starting
// server (IANA by default) about an address, follows referrals to the
// regional registry, and returns the answer's raw text, cleaned for display,
// with a short summary (network name, country, organisation, AS, abuse
// contact, CIDR).
//
// Query forms: ARIN (whois.arin.net) is asked "n + ADDR" (network records
// only, with the full details); every other server gets the bare address.
// RIPE-style servers (RIPE, AFRINIC, APNIC) are NOT given -B: their default,
// filtered answer already names the abuse contact in a "% Abuse contact"
// line, and unfiltered answers carry personal e-mail addresses that would
// then travel in notification mails.
//
// Referrals: IANA's refer:/whois: and ARIN's ReferralServer: whois://...
// are followed, at most maxHops servers per lookup and never the same server
// twice; rwhois and other schemes are skipped, and so are referrals to a
// port other than 43 or to a non-public address literal (a network's holder
// can set its own referral server; it must not point warden at local
// services). The last server that answered gives the summary and the raw
// text.
//
// Safety: every answer is read through a size cap and per-query and total
// deadlines. Summary fields hold no control or format characters (no CR, LF,
// ESC or bidi overrides) and are valid UTF-8; Raw keeps newlines and tabs
// only. Text such as "~!" (the mail(1) escape of CVE-2021-32749) is left in
// place as plain data: it is harmless as long as no caller hands whois text
// to mail(1) or a shell, which warden never does.
package whois

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sync/singleflight"
)

// Defaults for the zero values of Config.
const (
	DefaultServer       = "whois.iana.org:43"
	DefaultQueryTimeout = 10 * time.Second
	DefaultDeadline     = 30 * time.Second
	DefaultMaxAnswer    = 256 << 10
	DefaultCacheTTL     = 24 * time.Hour
	// maxHops bounds the servers asked in one lookup (IANA, an RIR, and
	// one referral from the RIR).
	maxHops = 4
	// cacheSize bounds the cache entries (addresses plus prefixes).
	cacheSize = 4096
)

// ErrDisabled is returned by Lookup when the configured server is "off".
var ErrDisabled = errors.New("whois disabled")

// ErrEmptyAnswer means a server closed the connection without answering.
var ErrEmptyAnswer = errors.New("empty whois answer")

// Summary is the short description of an address; every field is one line
// of display-safe text, "" when the answer did not say. Its JSON form is
// `warden whois --json`'s "summary" and a webhook ban event's "whois": the
// field names are part of both interfaces.
type Summary struct {
	NetName string `json:"netname"`
	Country string `json:"country"`
	Org     string `json:"org"`
	AS      string `json:"as"`
	Abuse   string `json:"abuse"`
	CIDR    string `json:"cidr"`
	// Server is the server that answered last (host:port).
	Server string `json:"server"`
}

// Result is the outcome of one lookup.
type Result struct {
	Addr    netip.Addr
	Summary Summary
	// Raw is the last server's answer, cleaned: valid UTF-8, no control
	// characters other than newline and tab. A cut answer ends with a
	// "% warden: answer cut" line.
	Raw string
	// Chain lists the servers asked, in order (host:port).
	Chain []string
}

// Config configures a Client. Zero values take the defaults above.
type Config struct {
	// Server is the first server asked, host or host:port (port 43 when
	// none); "off" disables lookups.
	Server string
	// QueryTimeout bounds one server's connect, query and answer;
	// Deadline bounds a whole lookup, referrals included.
	QueryTimeout, Deadline time.Duration
	// MaxAnswer caps the bytes read from one server; the rest is dropped.
	MaxAnswer int64
	// CacheTTL is how long a result is reused for the same address and
	// for other addresses of the network the answer gave for it (the
	// inetnum/NetRange/CIDR record holding it, else its route); networks
	// wider than /16 (IPv4) or /32 (IPv6) are not shared, as they often
	// hold smaller assignments with other owners. Negative disables the
	// cache.
	CacheTTL time.Duration
	// Dial opens connections; nil uses a net.Dialer, which for referred
	// servers refuses loopback, private, link-local and other non-public
	// addresses (an address holder can name its own referral server).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client looks addresses up. It is safe for concurrent use; concurrent
// lookups of one address share one query.
type Client struct {
	cfg Config
	// referDial opens connections to referred servers (cfg.Dial opens the
	// one to the configured server).
	referDial func(ctx context.Context, network, addr string) (net.Conn, error)
	server    string // normalised cfg.Server; "" when disabled
	badCfg    error
	group     singleflight.Group
	cache     *cache
	now       func() time.Time
	disabled  bool
}

// New returns a Client for cfg. A malformed Server makes every Lookup fail
// with an error that names it.
func New(cfg Config) *Client {
	c := &Client{cfg: cfg, now: time.Now}
	if c.cfg.Server == "" {
		c.cfg.Server = DefaultServer
	}
	if c.cfg.QueryTimeout <= 0 {
		c.cfg.QueryTimeout = DefaultQueryTimeout
	}
	if c.cfg.Deadline <= 0 {
		c.cfg.Deadline = DefaultDeadline
	}
	if c.cfg.MaxAnswer <= 0 {
		c.cfg.MaxAnswer = DefaultMaxAnswer
	}
	if c.cfg.CacheTTL == 0 {
		c.cfg.CacheTTL = DefaultCacheTTL
	}
	c.referDial = c.cfg.Dial
	if c.cfg.Dial == nil {
		var d net.Dialer
		c.cfg.Dial = d.DialContext
		pub := net.Dialer{Control: publicOnly}
		c.referDial = pub.DialContext
	}
	if c.cfg.Server == "off" {
		c.disabled = true
	} else if s, ok := normalizeServer(c.cfg.Server); ok {
		c.server = s
	} else {
		c.badCfg = fmt.Errorf("whois: server %q is not host or host:port", c.cfg.Server)
	}
	c.cache = newCache(cacheSize)
	return c
}

// Lookup returns what whois says about addr. A cached result is returned
// when there is one for addr or for a network holding it.
//
// When the first server answers but a referral fails, Lookup returns the
// answer it has AND a non-nil error naming the failed server; such partial
// results are not cached. When the caller's ctx ends first, Lookup returns
// ctx's error while the shared query runs on to its own deadline (so its
// result still reaches the cache).
func (c *Client) Lookup(ctx context.Context, addr netip.Addr) (*Result, error) {
	if c.disabled {
		return nil, ErrDisabled
	}
	if c.badCfg != nil {
		return nil, c.badCfg
	}
	if !addr.IsValid() {
		return nil, errors.New("whois: invalid address")
	}
	addr = addr.Unmap().WithZone("")
	if r, ok := c.cache.get(addr, c.now()); ok {
		return r, nil
	}
	ch := c.group.DoChan(addr.String(), func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Deadline)
		defer cancel()
		r, match, err := c.resolve(lctx, addr)
		if err == nil && c.cfg.CacheTTL > 0 {
			c.cache.put(addr, match, r, c.now().Add(c.cfg.CacheTTL))
		}
		return r, err
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		r, _ := res.Val.(*Result)
		return r.clone(addr), res.Err
	}
}

// clone copies r for one caller, with addr as the address asked about.
func (r *Result) clone(addr netip.Addr) *Result {
	if r == nil {
		return nil
	}
	c := *r
	c.Addr = addr
	c.Chain = append([]string(nil), r.Chain...)
	return &c
}

// resolve walks the referral chain for addr. match is the network of the
// final answer that holds addr (invalid when none did).
func (c *Client) resolve(ctx context.Context, addr netip.Addr) (r *Result, match netip.Prefix, err error) {
	server := c.server
	seen := map[string]bool{}
	for hop := 0; hop < maxHops && server != "" && !seen[server]; hop++ {
		seen[server] = true
		if r == nil {
			r = &Result{Addr: addr}
		}
		r.Chain = append(r.Chain, server)
		dial := c.cfg.Dial
		if hop > 0 {
			dial = c.referDial
		}
		raw, err := c.query(ctx, dial, server, queryFor(server, addr))
		if err != nil {
			if len(r.Chain) == 1 {
				return nil, netip.Prefix{}, err
			}
			return r, netip.Prefix{}, err
		}
		a := parseAnswer(raw)
		r.Raw = raw
		r.Summary, match = summarize(a, addr)
		r.Summary.Server = server
		server = a.referral
	}
	return r, match, nil
}

// queryFor is the query line (without CRLF) sent to server.
func queryFor(server string, addr netip.Addr) string {
	host, _, _ := net.SplitHostPort(server)
	if host == "whois.arin.net" {
		return "n + " + addr.String()
	}
	return addr.String()
}
