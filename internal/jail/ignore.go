package jail

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrIgnoreEntry reports an ignoreip word that is neither an address, a
// prefix, a host name nor a file: list.
var ErrIgnoreEntry = errors.New("jail: bad ignoreip entry")

// Resolver looks host names up; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// IgnoreCacheConfig is ignorecache: results are cached under Key (a
// template such as "<ip>" or "<F-USER>") for MaxTime, at most MaxCount of
// them (the oldest go first).
type IgnoreCacheConfig struct {
	Key      string
	MaxCount int           // 0: fail2ban's default 100
	MaxTime  time.Duration // 0: fail2ban's default 5 minutes
}

// IgnoreConfig configures an IgnoreList.
type IgnoreConfig struct {
	// Entries are the ignoreip words: addresses, prefixes ("10.0.0.0/8",
	// "10.0.0.0/255.0.0.0"), host names, and "file:/path" lists (one
	// entry a line, "#" comments) re-read when the file changes.
	Entries []string
	Self    bool // ignoreself
	// SelfAddrs returns the host's own addresses for ignoreself.
	SelfAddrs func(ctx context.Context) ([]netip.Addr, error)
	Resolver  Resolver
	// DNSTTL is how long resolved names (and SelfAddrs) are kept;
	// 0 means 5 minutes, as fail2ban's DNS cache.
	DNSTTL time.Duration
	// Command is ignorecommand; see Command for how it runs.
	Command string
	Runner  CommandRunner // nil: ExecRunner with a 60 s timeout
	Cache   *IgnoreCacheConfig
	Clock   func() time.Time
	// Stat and ReadFile reach file: lists; nil means the os package.
	Stat     func(string) (fs.FileInfo, error)
	ReadFile func(string) ([]byte, error)
}

// Query is what an ignore check looks at.
type Query struct {
	Addr   netip.Addr // invalid for a failure id that is no address
	ID     string
	Fields map[string]string
	Jail   string
}

// IgnoreList decides whether a failure is to be ignored. Safe for
// concurrent use.
type IgnoreList struct {
	cfg      IgnoreConfig
	addrs    map[netip.Addr]struct{}
	prefixes []netip.Prefix
	names    []string
	files    []*ignoreFile
	command  *Command

	mu       sync.Mutex
	resolved map[string]resolvedName
	self     resolvedName
	cache    *ignoreCache
}

type resolvedName struct {
	addrs []netip.Addr
	until time.Time
}

type ignoreFile struct {
	path     string
	checked  time.Time
	mod      time.Time
	size     int64
	addrs    map[netip.Addr]struct{}
	prefixes []netip.Prefix
	names    []string
	err      error
}

// NewIgnoreList parses the entries and the command.
func NewIgnoreList(cfg IgnoreConfig) (*IgnoreList, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.DNSTTL <= 0 {
		cfg.DNSTTL = 5 * time.Minute
	}
	if cfg.Stat == nil {
		cfg.Stat = os.Stat
	}
	if cfg.ReadFile == nil {
		cfg.ReadFile = os.ReadFile
	}
	if cfg.Runner == nil {
		cfg.Runner = ExecRunner{Timeout: 60 * time.Second}
	}
	l := &IgnoreList{cfg: cfg, addrs: map[netip.Addr]struct{}{}, resolved: map[string]resolvedName{}}
	for i, w := range cfg.Entries {
		if path, ok := strings.CutPrefix(w, "file:"); ok {
			if path == "" {
				return nil, fmt.Errorf("%w: entry %d: empty file: path", ErrIgnoreEntry, i+1)
			}
			l.files = append(l.files, &ignoreFile{path: path})
			continue
		}
		if err := addEntry(w, l.addrs, &l.prefixes, &l.names); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
	}
	if strings.TrimSpace(cfg.Command) != "" {
		c, err := ParseCommand(cfg.Command)
		if err != nil {
			return nil, err
		}
		l.command = c
	}
	if cfg.Cache != nil && cfg.Cache.Key != "" {
		c := *cfg.Cache
		if c.MaxCount <= 0 {
			c.MaxCount = 100
		}
		if c.MaxTime <= 0 {
			c.MaxTime = 5 * time.Minute
		}
		l.cache = &ignoreCache{cfg: c, items: map[string]*list.Element{}, order: list.New()}
	}
	return l, nil
}

// ParseIgnoreEntry parses one ignoreip word that is an address or a
// prefix. ok is false for anything else (a host name).
func ParseIgnoreEntry(w string) (p netip.Prefix, ok bool, err error) {
	w = strings.TrimSpace(w)
	if len(w) > 2 && w[0] == '[' && w[len(w)-1] == ']' {
		w = w[1 : len(w)-1]
	}
	host, mask, hasMask := strings.Cut(w, "/")
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		if hasMask {
			return netip.Prefix{}, false, fmt.Errorf("%w: %q: %w", ErrIgnoreEntry, w, err)
		}
		return netip.Prefix{}, false, nil
	}
	a = a.Unmap().WithZone("")
	bits := a.BitLen()
	if hasMask {
		bits, err = maskBits(mask, a.Is4())
		if err != nil {
			return netip.Prefix{}, false, fmt.Errorf("%w: %q: %w", ErrIgnoreEntry, w, err)
		}
	}
	p, err = a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false, fmt.Errorf("%w: %q: %w", ErrIgnoreEntry, w, err)
	}
	return p, true, nil
}

// maskBits reads a prefix length or a dotted/colon netmask.
func maskBits(m string, v4 bool) (int, error) {
	if n, err := strconv.Atoi(m); err == nil {
		return n, nil
	}
	a, err := netip.ParseAddr(m)
	if err != nil || a.Is4() != v4 {
		return 0, fmt.Errorf("bad mask %q", m)
	}
	b := a.AsSlice()
	n := 0
	for n < len(b)*8 && b[n/8]&(0x80>>(n%8)) != 0 {
		n++
	}
	for i := n; i < len(b)*8; i++ {
		if b[i/8]&(0x80>>(i%8)) != 0 {
			return 0, fmt.Errorf("non-contiguous mask %q", m)
		}
	}
	return n, nil
}

func addEntry(w string, addrs map[netip.Addr]struct{}, prefixes *[]netip.Prefix, names *[]string) error {
	p, ok, err := ParseIgnoreEntry(w)
	switch {
	case err != nil:
		return err
	case !ok:
		if !validName(w) {
			return fmt.Errorf("%w: %q", ErrIgnoreEntry, w)
		}
		*names = append(*names, strings.ToLower(w))
	case p.IsSingleIP():
		addrs[p.Addr()] = struct{}{}
	default:
		*prefixes = append(*prefixes, p)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '.' || c == '-' || c == '_' || isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Contains reports whether the failure is to be ignored, checking in
// fail2ban's order: ignorecache, ignoreself, ignoreip, ignorecommand. A
// lookup or command error yields false with the error.
func (l *IgnoreList) Contains(ctx context.Context, q Query) (bool, error) {
	_, ok, err := l.Check(ctx, q)
	return ok, err
}

// The sources Check names, in fail2ban's words for its "[jail] Ignore ID
// by SOURCE" line.
const (
	IgnoredBySelf    = "ignoreself rule"
	IgnoredByIP      = "ip"  // an address or network of ignoreip (or its files)
	IgnoredByDNS     = "dns" // a host name of ignoreip (or its files)
	IgnoredByCommand = "command"
)

// Check is Contains that also names what ignored the failure (one of the
// IgnoredBy constants), or "" when the ignorecache answered: fail2ban logs
// no line for a cached answer.
func (l *IgnoreList) Check(ctx context.Context, q Query) (by string, ignored bool, err error) {
	q.Addr = q.Addr.Unmap().WithZone("")
	key := ""
	if l.cache != nil {
		key = expandTags(l.cache.cfg.Key, q, nil)
		l.mu.Lock()
		v, ok := l.cache.get(key, l.cfg.Clock())
		l.mu.Unlock()
		if ok {
			return "", v, nil
		}
	}
	var errs []error
	if q.Addr.IsValid() {
		if l.cfg.Self && l.cfg.SelfAddrs != nil {
			own, err := l.selfAddrs(ctx)
			if err != nil {
				errs = append(errs, err)
			}
			for _, a := range own {
				if a.Unmap().WithZone("") == q.Addr {
					l.remember(key, true)
					return IgnoredBySelf, true, nil
				}
			}
		}
		if _, ok := l.addrs[q.Addr]; ok {
			return IgnoredByIP, true, nil
		}
		if inPrefixes(q.Addr, l.prefixes) {
			l.remember(key, true)
			return IgnoredByIP, true, nil
		}
		names := l.names
		for _, f := range l.files {
			hit, fnames, err := l.inFile(f, q.Addr)
			if err != nil {
				errs = append(errs, err)
			}
			if hit {
				l.remember(key, true)
				return IgnoredByIP, true, nil
			}
			names = append(names[:len(names):len(names)], fnames...)
		}
		for _, n := range names {
			as, err := l.resolve(ctx, n)
			if err != nil {
				errs = append(errs, err)
			}
			for _, a := range as {
				if a.Unmap().WithZone("") == q.Addr {
					l.remember(key, true)
					return IgnoredByDNS, true, nil
				}
			}
		}
	}
	if l.command != nil {
		ok, err := l.command.Check(ctx, l.cfg.Runner, q)
		if err != nil {
			return "", false, errors.Join(append(errs, err)...)
		}
		l.remember(key, ok)
		if ok {
			by = IgnoredByCommand
		}
		return by, ok, errors.Join(errs...)
	}
	l.remember(key, false)
	return "", false, errors.Join(errs...)
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *IgnoreList) remember(key string, v bool) {
	if l.cache == nil {
		return
	}
	l.mu.Lock()
	l.cache.set(key, v, l.cfg.Clock())
	l.mu.Unlock()
}

func (l *IgnoreList) selfAddrs(ctx context.Context) ([]netip.Addr, error) {
	now := l.cfg.Clock()
	l.mu.Lock()
	s := l.self
	l.mu.Unlock()
	if s.until.After(now) {
		return s.addrs, nil
	}
	as, err := l.cfg.SelfAddrs(ctx)
	if err != nil {
		return nil, fmt.Errorf("ignoreself: %w", err)
	}
	l.mu.Lock()
	l.self = resolvedName{addrs: as, until: now.Add(l.cfg.DNSTTL)}
	l.mu.Unlock()
	return as, nil
}

// resolve looks a name up through the resolver, caching the answer (an
// empty one too, so a dead name does not stall every failure).
func (l *IgnoreList) resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	if l.cfg.Resolver == nil {
		return nil, nil
	}
	now := l.cfg.Clock()
	l.mu.Lock()
	r, ok := l.resolved[name]
	l.mu.Unlock()
	if ok && r.until.After(now) {
		return r.addrs, nil
	}
	as, err := l.cfg.Resolver.LookupNetIP(ctx, "ip", name)
	l.mu.Lock()
	l.resolved[name] = resolvedName{addrs: as, until: now.Add(l.cfg.DNSTTL)}
	l.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("ignoreip %q: %w", name, err)
	}
	return as, nil
}

// inFile checks a file: list, re-reading it when its size or modification
// time changed (checked at most once a second).
func (l *IgnoreList) inFile(f *ignoreFile, a netip.Addr) (bool, []string, error) {
	now := l.cfg.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if f.addrs == nil || now.Sub(f.checked) >= time.Second || now.Before(f.checked) {
		f.checked = now
		if fi, err := l.cfg.Stat(f.path); err != nil {
			f.err = fmt.Errorf("ignoreip file:%s: %w", f.path, err)
		} else if f.addrs == nil || !fi.ModTime().Equal(f.mod) || fi.Size() != f.size {
			f.mod, f.size = fi.ModTime(), fi.Size()
			f.err = l.loadFile(f)
		}
	}
	if f.addrs == nil {
		return false, nil, f.err
	}
	if _, ok := f.addrs[a]; ok {
		return true, nil, nil
	}
	return inPrefixes(a, f.prefixes), f.names, f.err
}

func (l *IgnoreList) loadFile(f *ignoreFile) error {
	b, err := l.cfg.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("ignoreip file:%s: %w", f.path, err)
	}
	addrs, prefixes, names, err := ParseIgnoreFile(f.path, string(b))
	if err != nil {
		return err
	}
	f.addrs, f.prefixes, f.names = addrs, prefixes, names
	return nil
}

// ParseIgnoreFile parses the text of a file: list. Entries are separated by
// white space or commas; "#" starts a comment. Errors name path:line.
func ParseIgnoreFile(path, text string) (map[netip.Addr]struct{}, []netip.Prefix, []string, error) {
	addrs := map[netip.Addr]struct{}{}
	var prefixes []netip.Prefix
	var names []string
	for n, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, w := range strings.FieldsFunc(line, func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t' || r == '\r'
		}) {
			if strings.HasPrefix(w, "file:") {
				return nil, nil, nil, fmt.Errorf("%s:%d: %w: nested %q", path, n+1, ErrIgnoreEntry, w)
			}
			if err := addEntry(w, addrs, &prefixes, &names); err != nil {
				return nil, nil, nil, fmt.Errorf("%s:%d: %w", path, n+1, err)
			}
		}
	}
	return addrs, prefixes, names, nil
}

// ignoreCache is fail2ban's Utils.Cache: a FIFO of at most MaxCount keys,
// each valid for MaxTime.
type ignoreCache struct {
	cfg   IgnoreCacheConfig
	items map[string]*list.Element
	order *list.List // of *cacheItem, oldest first
}

type cacheItem struct {
	key   string
	v     bool
	until time.Time
}

func (c *ignoreCache) get(k string, now time.Time) (bool, bool) {
	el, ok := c.items[k]
	if !ok {
		return false, false
	}
	it := el.Value.(*cacheItem)
	if it.until.After(now) {
		return it.v, true
	}
	c.order.Remove(el)
	delete(c.items, k)
	return false, false
}

func (c *ignoreCache) set(k string, v bool, now time.Time) {
	if el, ok := c.items[k]; ok {
		it := el.Value.(*cacheItem)
		it.v, it.until = v, now.Add(c.cfg.MaxTime)
		return
	}
	if len(c.items) >= c.cfg.MaxCount {
		// Drop from the front until an unexpired item could stay
		// with room for the new one.
		for c.order.Len() > 0 {
			it := c.order.Remove(c.order.Front()).(*cacheItem)
			delete(c.items, it.key)
			if it.until.After(now) && len(c.items) < c.cfg.MaxCount {
				break
			}
		}
	}
	c.items[k] = c.order.PushBack(&cacheItem{key: k, v: v, until: now.Add(c.cfg.MaxTime)})
}
