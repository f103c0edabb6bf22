package ipset

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/kernelset"
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
	return kernelset.CreateLine(name, typ, v6, 1024, b.opts.MaxElem)
}

// restore feeds one batch to "ipset restore".
func (b *Backend) restore(ctx context.Context, batch []byte) error {
	if len(batch) == 0 {
		return nil
	}
	_, err := b.run(ctx, b.opts.IPSet, batch, "restore")
	return err
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

// addBatch appends "add" lines for bans to buf and counts them; bans that
// have ended are skipped (see kernelset.Timeout).
func addBatch(buf *bytes.Buffer, bans []firewall.Ban, sets []string, now time.Time) int {
	n := 0
	line := make([]byte, 0, 96)
	for i, ban := range bans {
		secs, ok := kernelset.Timeout(ban.Expires, now)
		if !ok {
			continue
		}
		line = kernelset.AppendAdd(line[:0], sets[i], ban.Prefix, secs)
		buf.Write(line)
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
		buf.Write(kernelset.AppendDel(nil, name, ban.Prefix))
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

// saveAll reads every set with its members.
func (b *Backend) saveAll(ctx context.Context) (map[string]*kernelset.Set, error) {
	out, err := b.run(ctx, b.opts.IPSet, nil, "save")
	if err != nil {
		return nil, err
	}
	return kernelset.ParseSave(out, nil)
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
		jf, ok := b.ownerOf(name, s.V6)
		if !ok || (s.Type != typeHost && s.Type != typeNet) {
			continue
		}
		for p, timeout := range s.Elems {
			ban := firewall.Ban{Jail: jf.jail, Prefix: p}
			if timeout > 0 {
				ban.Expires = now.Add(time.Duration(timeout) * time.Second)
			}
			out = append(out, ban)
		}
	}
	slices.SortFunc(out, func(x, y firewall.Ban) int {
		if c := strings.Compare(x.Jail, y.Jail); c != 0 {
			return c
		}
		return firewall.ComparePrefix(x.Prefix, y.Prefix)
	})
	return out, nil
}
