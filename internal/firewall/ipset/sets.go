package ipset

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"warden/internal/firewall"
)

// Set types the backend creates.
const (
	typeHost = "hash:ip"
	typeNet  = "hash:net"
)

// setInfo is a set's header as "ipset list -t" reports it.
type setInfo struct {
	typ  string // hash:ip, hash:net, ...
	v6   bool   // family inet6
	refs int    // references from iptables rules
	// entries is the element count "ipset list -t" reports (elements
	// whose timeout ran out count until the kernel's garbage collection).
	entries int
}

// parseTerse reads "ipset list -t" output: blocks of "Key: value" lines
// separated by blank lines.
func parseTerse(out []byte) (map[string]setInfo, error) {
	sets := map[string]setInfo{}
	var name string
	var cur setInfo
	line := 0
	flush := func() {
		if name != "" {
			sets[name] = cur
		}
		name, cur = "", setInfo{}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			flush()
			continue
		}
		key, val, ok := strings.Cut(text, ":")
		if !ok {
			return nil, fmt.Errorf("ipset list line %d: %q: no key", line, text)
		}
		val = strings.TrimSpace(val)
		switch key {
		case "Name":
			flush()
			name = val
		case "Type":
			cur.typ = val
		case "Header":
			f := strings.Fields(val)
			for i := 0; i+1 < len(f); i++ {
				if f[i] == "family" {
					cur.v6 = f[i+1] == "inet6"
				}
			}
		case "References", "Number of entries":
			n, err := strconv.Atoi(val)
			if err != nil {
				return nil, fmt.Errorf("ipset list line %d: %s %q: %w", line, strings.ToLower(key), val, err)
			}
			if key == "References" {
				cur.refs = n
			} else {
				cur.entries = n
			}
		}
	}
	flush()
	return sets, sc.Err()
}

// listSets reads every set's header.
func (b *Backend) listSets(ctx context.Context) (map[string]setInfo, error) {
	out, err := b.run(ctx, b.opts.IPSet, nil, "list", "-t")
	if err != nil {
		return nil, err
	}
	return parseTerse(out)
}

// createLine is the restore command that creates a set.
func (b *Backend) createLine(name, typ string, v6 bool) string {
	family := "inet"
	if v6 {
		family = "inet6"
	}
	return fmt.Sprintf("create %s %s family %s hashsize 1024 maxelem %d timeout 0 -exist\n", name, typ, family, b.opts.MaxElem)
}

// restore feeds one batch to "ipset restore".
func (b *Backend) restore(ctx context.Context, batch []byte) error {
	if len(batch) == 0 {
		return nil
	}
	_, err := b.run(ctx, b.opts.IPSet, batch, "restore")
	return err
}

// timeoutSecs converts an expiry into the element timeout: whole seconds
// rounded up, capped at the kernel's limit, 0 for a permanent ban. ok is
// false when the ban has expired.
func timeoutSecs(expires, now time.Time) (secs int64, ok bool) {
	if expires.IsZero() {
		return 0, true
	}
	left := expires.Sub(now)
	if left <= 0 {
		return 0, false
	}
	secs = int64((left + time.Second - 1) / time.Second)
	return min(secs, maxTimeout), true
}

// element renders a ban's prefix as ipset writes it: a host without its
// prefix length.
func element(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// group validates bans against the installed jails and returns them
// normalized with the set each belongs to.
func (b *Backend) group(bans []firewall.Ban) ([]firewall.Ban, []string, error) {
	norm, err := firewall.NormalizeBans(bans)
	if err != nil {
		return nil, nil, fmt.Errorf("ipset: %w", err)
	}
	sets := make([]string, len(norm))
	last := ""
	var names [2]string // the last jail's set names, IPv4 and IPv6
	for i, ban := range norm {
		if i == 0 || ban.Jail != last {
			if _, ok := b.jails[ban.Jail]; !ok {
				return nil, nil, fmt.Errorf("ipset: ban %s: %w %q", ban.Prefix, firewall.ErrUnknownJail, ban.Jail)
			}
			last = ban.Jail
			names = [2]string{SetName(last, false), SetName(last, true)}
		}
		name := names[0]
		if ban.Prefix.Addr().Is6() {
			if !b.v6 {
				return nil, nil, fmt.Errorf("ipset: ban %s in jail %q: %w: ip6tables is unusable on this host", ban.Prefix, ban.Jail, firewall.ErrInvalidAddress)
			}
			name = names[1]
		}
		if !ban.Prefix.IsSingleIP() && b.types[name] != typeNet {
			return nil, nil, fmt.Errorf("ipset: ban %s in jail %q: %w: its set %s is %s, networks need %s",
				ban.Prefix, ban.Jail, firewall.ErrInvalidAddress, name, b.types[name], typeNet)
		}
		sets[i] = name
	}
	return norm, sets, nil
}

// addBatch appends "add" lines for bans to buf and counts them; expired
// bans are skipped.
func addBatch(buf *bytes.Buffer, bans []firewall.Ban, sets []string, now time.Time) int {
	n := 0
	for i, ban := range bans {
		secs, ok := timeoutSecs(ban.Expires, now)
		if !ok {
			continue
		}
		buf.WriteString("add ")
		buf.WriteString(sets[i])
		buf.WriteByte(' ')
		buf.WriteString(element(ban.Prefix))
		buf.WriteString(" timeout ")
		buf.WriteString(strconv.FormatInt(secs, 10))
		buf.WriteString(" -exist\n")
		n++
	}
	return n
}

// Ban implements firewall.Backend: one "ipset restore" adds every ban with
// its remaining time as the element timeout; re-adding refreshes it. Jails
// must have been installed by Setup (ErrUnknownJail otherwise), and
// networks need a jail set up with Networks (ErrInvalidAddress otherwise).
func (b *Backend) Ban(ctx context.Context, bans []firewall.Ban) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	norm, sets, err := b.group(bans)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.Grow(len(norm) * 48)
	n := addBatch(&buf, norm, sets, time.Now())
	if n == 0 {
		return nil
	}
	prepared := time.Now()
	if err := b.restore(ctx, buf.Bytes()); err != nil {
		return fmt.Errorf("ipset: ban: %w", err)
	}
	b.note(norm)
	b.log.Debug("ban batch applied", "elements", n, "prepare", prepared.Sub(start), "restore", time.Since(prepared))
	return nil
}

// Unban implements firewall.Backend: one "ipset restore" deletes every ban;
// elements not present, and networks of jails with host sets, are ignored.
func (b *Backend) Unban(ctx context.Context, bans []firewall.Ban) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	norm, err := firewall.NormalizeBans(bans)
	if err != nil {
		return fmt.Errorf("ipset: %w", err)
	}
	var buf bytes.Buffer
	for _, ban := range norm {
		if _, ok := b.jails[ban.Jail]; !ok {
			return fmt.Errorf("ipset: unban %s: %w %q", ban.Prefix, firewall.ErrUnknownJail, ban.Jail)
		}
		name := SetName(ban.Jail, ban.Prefix.Addr().Is6())
		if !ban.Prefix.IsSingleIP() && b.types[name] != typeNet || ban.Prefix.Addr().Is6() && !b.v6 {
			continue // a host set never holds a network (and would read it as a range)
		}
		fmt.Fprintf(&buf, "del %s %s -exist\n", name, element(ban.Prefix))
	}
	if err := b.restore(ctx, buf.Bytes()); err != nil {
		return fmt.Errorf("ipset: unban: %w", err)
	}
	b.note(norm)
	return nil
}

// note records committed changes for a heal reading meanwhile. The caller
// holds b.mu.
func (b *Backend) note(bans []firewall.Ban) {
	for _, ban := range bans {
		b.changes.Note(firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix})
	}
}

// savedSet is one set read back from "ipset list -o save".
type savedSet struct {
	setInfo
	elems []member
}

// member is one member of a saved set.
type member struct {
	prefix  netip.Prefix
	timeout int64 // seconds left; 0 = permanent (or no timeout support)
}

// parseSave reads "ipset save" output: "create NAME TYPE [family F] ..."
// and "add NAME ELEMENT [timeout N] ..." lines.
func parseSave(out []byte) (map[string]*savedSet, error) {
	sets := map[string]*savedSet{}
	line := 0
	for len(out) > 0 {
		var text []byte
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			text, out = out[:i], out[i+1:]
		} else {
			text, out = out, nil
		}
		line++
		f := strings.Fields(string(text))
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("ipset save line %d: %q: too short", line, text)
		}
		switch f[0] {
		case "create":
			s := &savedSet{setInfo: setInfo{typ: f[2]}}
			for i := 3; i+1 < len(f); i++ {
				if f[i] == "family" {
					s.v6 = f[i+1] == "inet6"
				}
			}
			sets[f[1]] = s
		case "add":
			s := sets[f[1]]
			if s == nil {
				return nil, fmt.Errorf("ipset save line %d: element of unknown set %q", line, f[1])
			}
			p, err := parseElement(f[2])
			if err != nil {
				return nil, fmt.Errorf("ipset save line %d: %w", line, err)
			}
			e := member{prefix: p}
			for i := 3; i+1 < len(f); i++ {
				if f[i] == "timeout" {
					if e.timeout, err = strconv.ParseInt(f[i+1], 10, 64); err != nil || e.timeout < 0 {
						return nil, fmt.Errorf("ipset save line %d: timeout %q: bad number", line, f[i+1])
					}
				}
			}
			s.elems = append(s.elems, e)
		default:
			return nil, fmt.Errorf("ipset save line %d: unknown command %q", line, f[0])
		}
	}
	return sets, nil
}

// parseElement reads an address or prefix as ipset prints it.
func parseElement(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("element %q: not an address or prefix", s)
	}
	return p, nil
}

// saveAll reads every set with its members.
func (b *Backend) saveAll(ctx context.Context) (map[string]*savedSet, error) {
	out, err := b.run(ctx, b.opts.IPSet, nil, "save")
	if err != nil {
		return nil, err
	}
	return parseSave(out)
}

// ownerOf maps a set name back to its jail and family: installed jails
// first, then fail2ban's naming f2b-<jail> / f2b-<jail>6, the family
// telling which.
func (b *Backend) ownerOf(name string, v6 bool) (jailFamily, bool) {
	if jf, ok := b.names[name]; ok {
		return jf, true
	}
	jail, ok := strings.CutPrefix(name, "f2b-")
	if !ok {
		return jailFamily{}, false
	}
	if v6 {
		if jail, ok = strings.CutSuffix(jail, "6"); !ok {
			return jailFamily{}, false
		}
	}
	if firewall.ValidateJailName(jail) != nil || SetName(jail, v6) != name {
		return jailFamily{}, false
	}
	return jailFamily{jail, v6}, true
}

// List implements firewall.Backend: it reads every f2b-* set of a jail
// (installed or named the fail2ban way) with one "ipset save". Expiry is
// to the second, as the kernel reports it.
func (b *Backend) List(ctx context.Context) ([]firewall.Ban, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	sets, err := b.saveAll(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []firewall.Ban
	for name, s := range sets {
		jf, ok := b.ownerOf(name, s.v6)
		if !ok || (s.typ != typeHost && s.typ != typeNet) {
			continue
		}
		for _, e := range s.elems {
			ban := firewall.Ban{Jail: jf.jail, Prefix: e.prefix}
			if e.timeout > 0 {
				ban.Expires = now.Add(time.Duration(e.timeout) * time.Second)
			}
			out = append(out, ban)
		}
	}
	slices.SortFunc(out, func(x, y firewall.Ban) int {
		if c := strings.Compare(x.Jail, y.Jail); c != 0 {
			return c
		}
		if c := x.Prefix.Addr().Compare(y.Prefix.Addr()); c != 0 {
			return c
		}
		return x.Prefix.Bits() - y.Prefix.Bits()
	})
	return out, nil
}
