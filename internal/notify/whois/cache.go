package whois

import (
	"net/netip"
	"slices"
	"sync"
	"time"
)

// cache holds results by exact address and by the network of the answer.
// It is bounded: when full, expired entries go first, then arbitrary ones.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[netip.Prefix]cacheEntry
	// lens counts entries per prefix length, for IPv4 [0] and IPv6 [1],
	// so get probes only the lengths in use.
	lens [2][129]int
}

type cacheEntry struct {
	r       *Result
	expires time.Time
}

// Networks wider than these are not cached for their other addresses: a
// large allocation often holds smaller assignments with other owners.
const (
	minCacheBits4 = 16
	minCacheBits6 = 32
)

func newCache(max int) *cache {
	return &cache{max: max, entries: map[netip.Prefix]cacheEntry{}}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

func (c *cache) get(addr netip.Addr, now time.Time) (*Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := family(addr)
	for bits := addr.BitLen(); bits >= 0; bits-- {
		if c.lens[f][bits] == 0 {
			continue
		}
		p := netip.PrefixFrom(addr, bits).Masked()
		e, ok := c.entries[p]
		if !ok {
			continue
		}
		if now.After(e.expires) {
			c.remove(p)
			continue
		}
		return e.r.clone(addr), true
	}
	return nil, false
}

// put stores r for addr and, when it is specific enough, for network.
func (c *cache) put(addr netip.Addr, network netip.Prefix, r *Result, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(netip.PrefixFrom(addr, addr.BitLen()), r, expires)
	if network.IsValid() && network.Addr().BitLen() == addr.BitLen() && network.Contains(addr) {
		least := minCacheBits4
		if network.Addr().Is6() {
			least = minCacheBits6
		}
		if network.Bits() >= least {
			c.add(network, r, expires)
		}
	}
}

func (c *cache) add(p netip.Prefix, r *Result, expires time.Time) {
	if _, ok := c.entries[p]; !ok {
		if len(c.entries) >= c.max {
			c.evict()
		}
		c.lens[family(p.Addr())][p.Bits()]++
	}
	c.entries[p] = cacheEntry{r: r, expires: expires}
}

// evict frees an eighth of the entries, those expiring first. All entries
// share one TTL, so they are the oldest; this runs once per max/8 puts.
func (c *cache) evict() {
	type aged struct {
		p netip.Prefix
		t time.Time
	}
	all := make([]aged, 0, len(c.entries))
	for p, e := range c.entries {
		all = append(all, aged{p, e.expires})
	}
	slices.SortFunc(all, func(a, b aged) int { return a.t.Compare(b.t) })
	for _, e := range all[:max(1, len(all)/8)] {
		c.remove(e.p)
	}
}

func (c *cache) remove(p netip.Prefix) {
	if _, ok := c.entries[p]; ok {
		delete(c.entries, p)
		c.lens[family(p.Addr())][p.Bits()]--
	}
}
