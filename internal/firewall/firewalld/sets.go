package firewalld

import (
	"context"
	"fmt"
	"strings"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/kernelset"
)

// Kernel set parameters. hash:net holds single addresses and networks
// alike; maxelem leaves room for a million bans per jail and family.
const (
	setType     = "hash:net"
	setHashSize = 4096
	setMaxElem  = 1 << 20
)

// writeCreate adds a restore line creating a set (kept as it is when it
// exists).
func writeCreate(w *strings.Builder, name string, v6 bool) {
	w.WriteString(kernelset.CreateLine(name, setType, v6, setHashSize, setMaxElem))
}

// appendAdds appends the restore lines adding bans to their sets with
// their remaining time as timeout; bans that have ended are left out.
// The caller checked each ban's jail (setOf).
func (b *Backend) appendAdds(buf []byte, bans []firewall.Ban, now time.Time) []byte {
	for _, ban := range bans {
		secs, ok := kernelset.Timeout(ban.Expires, now)
		if !ok {
			continue
		}
		set, _ := b.setOf(ban)
		buf = kernelset.AppendAdd(buf, set, ban.Prefix, secs)
	}
	return buf
}

// runIPSet runs the ipset tool with args, feeding it stdin.
func (b *Backend) runIPSet(ctx context.Context, stdin []byte, args ...string) error {
	_, err := kernelset.Run(ctx, b.ipset, stdin, args...)
	return err
}

// readSets reads every set whose name passes keep, with its elements.
func (b *Backend) readSets(ctx context.Context, keep func(string) bool) (map[string]*kernelset.Set, error) {
	return kernelset.Save(ctx, b.ipset, keep)
}

// destroySets destroys our sets whose name passes which. Sets still
// referenced by a rule someone else added cannot be destroyed; that is an
// error.
func (b *Backend) destroySets(ctx context.Context, which func(string) bool) error {
	out, err := kernelset.Run(ctx, b.ipset, nil, "list", "-n")
	if err != nil {
		return err
	}
	var script strings.Builder
	for _, name := range strings.Fields(string(out)) {
		if ownedSet(b.prefix, name) && which(name) {
			fmt.Fprintf(&script, "destroy %s\n", name)
		}
	}
	if script.Len() == 0 {
		return nil
	}
	return b.runIPSet(ctx, []byte(script.String()), "restore")
}

// setOf returns the set a ban goes to, checking that its jail was set up.
func (b *Backend) setOf(ban firewall.Ban) (string, error) {
	if _, ok := b.jails[ban.Jail]; !ok {
		return "", fmt.Errorf("ban %s: %w %q", ban.Prefix, firewall.ErrUnknownJail, ban.Jail)
	}
	return setName(b.prefix, ban.Jail, ban.Prefix.Addr().Is6()), nil
}

// Ban implements firewall.Backend: one `ipset restore` adds every element
// with its timeout (refreshing the timeout of elements already there).
func (b *Backend) Ban(ctx context.Context, bans []firewall.Ban) error {
	bans, err := firewall.NormalizeBans(bans)
	if err != nil {
		return fmt.Errorf("firewalld: ban: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ban := range bans {
		if _, err := b.setOf(ban); err != nil {
			return fmt.Errorf("firewalld: ban: %w", err)
		}
	}
	script := b.appendAdds(make([]byte, 0, len(bans)*48), bans, time.Now())
	if len(script) == 0 {
		return nil
	}
	if err := b.runIPSet(ctx, script, "restore"); err != nil {
		return fmt.Errorf("firewalld: ban: %w", err)
	}
	for _, ban := range bans {
		b.changes.Note(firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix})
	}
	return nil
}

// Unban implements firewall.Backend: one `ipset restore` deletes every
// element; elements not there are ignored.
func (b *Backend) Unban(ctx context.Context, bans []firewall.Ban) error {
	bans, err := firewall.NormalizeBans(bans)
	if err != nil {
		return fmt.Errorf("firewalld: unban: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var script []byte
	for _, ban := range bans {
		set, err := b.setOf(ban)
		if err != nil {
			return fmt.Errorf("firewalld: unban: %w", err)
		}
		script = kernelset.AppendDel(script, set, ban.Prefix)
	}
	if len(script) == 0 {
		return nil
	}
	if err := b.runIPSet(ctx, script, "restore"); err != nil {
		return fmt.Errorf("firewalld: unban: %w", err)
	}
	for _, ban := range bans {
		b.changes.Note(firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix})
	}
	return nil
}

// List implements firewall.Backend: the elements of the sets of the jails
// given to Setup, with their end computed from the remaining timeout.
func (b *Backend) List(ctx context.Context) ([]firewall.Ban, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	byName := b.setJails()
	sets, err := b.readSets(ctx, func(n string) bool { return byName[n] != "" })
	if err != nil {
		return nil, fmt.Errorf("firewalld: list: %w", err)
	}
	now := time.Now()
	var out []firewall.Ban
	for _, jail := range b.order {
		for _, v6 := range []bool{false, true} {
			s := sets[setName(b.prefix, jail, v6)]
			if s == nil {
				continue
			}
			for p, t := range s.Elems {
				ban := firewall.Ban{Jail: jail, Prefix: p}
				if t > 0 {
					ban.Expires = now.Add(time.Duration(t) * time.Second)
				}
				out = append(out, ban)
			}
		}
	}
	return out, nil
}

// setJails maps the set names of the jails given to Setup to their jail.
func (b *Backend) setJails() map[string]string {
	m := make(map[string]string, 2*len(b.order))
	for _, j := range b.order {
		m[setName(b.prefix, j, false)] = j
		m[setName(b.prefix, j, true)] = j
	}
	return m
}
