package ipset

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/kernelset"
)

// drift is what Check found missing.
type drift struct {
	batch  bytes.Buffer // ipset restore lines: sets to create, elements to add
	sets   int
	bans   int
	rules  [2]int       // missing rules per family
	have   [2][]ourRule // our rules found, per family
	relist [2]bool      // family whose rules must be rewritten
}

// Repair implements firewall.Drift.
func (d *drift) Repair() firewall.Repair {
	return firewall.Repair{Objects: d.sets + d.rules[0] + d.rules[1], Bans: d.bans}
}

// Check implements firewall.Healer: set headers ("ipset list -t") and one
// "iptables -S" per family are compared with the installed jails and want;
// the members of a set are read only when its entry count differs from
// the number of bans it should hold. (A ban removed and a stranger added
// by hand keep the count and go unnoticed until the count changes.)
func (b *Backend) Check(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	return firewall.ReconcileRead(ctx, &b.mu, func() (*readBack, error) { return b.readBack(ctx, want) },
		func(r *readBack) (*drift, error) { return b.diff(ctx, want, r) }, nil)
}

// Heal implements firewall.Healer: missing sets and elements go back in
// one ipset batch, then each family whose rules differ gets them rewritten
// in one iptables-restore batch. The sets are read (headers, and members
// when a count is off) without the batch lock, so a Ban does not wait for
// "ipset save"; under the lock the rules are read, and elements our own
// Ban and Unban changed since the read are left be (see firewall.ChangeLog).
func (b *Backend) Heal(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	return firewall.ReconcileRead(ctx, &b.mu, func() (*readBack, error) { return b.readBack(ctx, want) },
		func(r *readBack) (*drift, error) { return b.diff(ctx, want, r) },
		func(d *drift) error { return b.mend(ctx, d) })
}

// mend puts back what d lacks. Rules that are all present but out of order
// count as nothing missing and are still rewritten. The caller holds b.mu.
func (b *Backend) mend(ctx context.Context, d *drift) error {
	if err := b.restore(ctx, d.batch.Bytes()); err != nil {
		return fmt.Errorf("ipset: heal: %w", err)
	}
	for i, v6 := range b.families() {
		if d.relist[i] {
			if err := b.replaceRules(ctx, v6, d.have[i], b.wantRules(v6)); err != nil {
				return fmt.Errorf("ipset: heal: %w", err)
			}
		}
	}
	if rep := d.Repair(); rep != (firewall.Repair{}) {
		b.log.Info("healed firewall", "objects", rep.Objects, "bans", rep.Bans)
	}
	return nil
}

// readBack is what a heal read of the sets, and the wanted bans it was
// read for.
type readBack struct {
	mark     firewall.Mark
	now      time.Time
	live     []firewall.Ban // wanted, of installed jails, not expired
	liveSets []string       // the set each of live belongs in
	count    map[string]int // bans each set should hold
	headers  map[string]setInfo
	saved    map[string]*kernelset.Set // read in full when some count is off
}

// plan sorts want by set, dropping bans of jails not installed and expired
// ones. jails and types are maps Setup installed (it replaces them, never
// changes one in place), so plan may run without b.mu.
func plan(jails map[string]firewall.JailSpec, types map[string]string, want []firewall.Ban) (*readBack, error) {
	norm, err := firewall.NormalizeBans(want)
	if err != nil {
		return nil, fmt.Errorf("ipset: %w", err)
	}
	r := &readBack{now: time.Now(), count: map[string]int{}, liveSets: make([]string, 0, len(norm))}
	last, installed := "", false
	var names [2]string // the last jail's set names, IPv4 and IPv6
	// live is norm itself (read-only, may be the caller's array) until a
	// ban is left out; only then is it copied.
	shared := true
	for i, ban := range norm {
		if i == 0 || ban.Jail != last {
			last = ban.Jail
			_, installed = jails[last]
			names = [2]string{SetName(last, false), SetName(last, true)}
		}
		n := names[0]
		if ban.Prefix.Addr().Is6() {
			n = names[1]
		}
		_, ok := kernelset.Timeout(ban.Expires, r.now)
		// Not installed, ended, or a network Ban refused for a host set:
		// nothing to put back.
		if !installed || !ok || !ban.Prefix.IsSingleIP() && types[n] != typeNet {
			if shared {
				r.live, shared = append(make([]firewall.Ban, 0, len(norm)), norm[:i]...), false
			}
			continue
		}
		if !shared {
			r.live = append(r.live, ban)
		}
		r.liveSets = append(r.liveSets, n)
		r.count[n]++
	}
	if shared {
		r.live = norm
	}
	return r, nil
}

// read fills r from the kernel. Cheap first look: set headers with their
// entry counts. Only when a set holds a different number of entries than
// it should are all members read ("ipset save"), which for 100,000 costs
// about 0.5 s. It needs no lock: it only runs the ipset tool.
func (b *Backend) read(ctx context.Context, r *readBack) error {
	headers, err := b.listSets(ctx)
	if err != nil {
		return fmt.Errorf("ipset: check: %w", err)
	}
	r.headers = headers
	for n, c := range r.count {
		if h, ok := headers[n]; ok && h.entries != c {
			if r.saved, err = b.saveAll(ctx); err != nil {
				return fmt.Errorf("ipset: check: %w", err)
			}
			return nil
		}
	}
	return nil
}

// readBack takes the installed jails under b.mu, then plans and reads
// without it. A nil result with no error means nothing is installed yet.
func (b *Backend) readBack(ctx context.Context, want []firewall.Ban) (*readBack, error) {
	b.mu.Lock()
	if len(b.order) == 0 {
		b.mu.Unlock()
		return nil, nil
	}
	jails, types, mark, hooks := b.jails, b.types, b.changes.Begin(), b.hooks
	b.mu.Unlock()
	r, err := plan(jails, types, want)
	if err == nil {
		r.mark = mark
		err = b.read(ctx, r)
	}
	if err != nil {
		b.mu.Lock()
		b.changes.End(mark)
		b.mu.Unlock()
		return nil, err
	}
	if hooks.readDone != nil {
		hooks.readDone()
	}
	return r, nil
}

// diff compares the kernel with the installed jails and want. The caller
// holds b.mu. With r (read without the lock) it trusts r for the sets,
// except for elements our own Ban and Unban changed since the read: one
// banned since is there, one unbanned since is no longer wanted. Without
// r, or when a Setup ran since, it reads again itself.
func (b *Backend) diff(ctx context.Context, want []firewall.Ban, r *readBack) (*drift, error) {
	var changes firewall.Changes
	if r != nil {
		if changes = b.changes.End(r.mark); changes.Reset {
			r = nil
		}
	}
	d := &drift{}
	if len(b.order) == 0 {
		return d, nil // nothing installed yet: nothing to heal
	}
	if r == nil {
		var err error
		if r, err = plan(b.jails, b.types, want); err != nil {
			return nil, err
		}
		if err := b.read(ctx, r); err != nil {
			return nil, err
		}
	}
	// present holds the members of the sets read in full (nil: a set
	// created now, or gone since the count was taken: none).
	present := map[string]map[netip.Prefix]int64{}
	for _, name := range b.order {
		for _, v6 := range b.families() {
			n := SetName(name, v6)
			h, ok := r.headers[n]
			switch {
			case !ok:
				d.batch.WriteString(b.createLine(n, b.types[n], v6))
				d.sets++
				present[n] = nil
			case h.entries != r.count[n]:
				present[n] = nil
				if s := r.saved[n]; s != nil {
					present[n] = s.Elems
				}
			}
		}
	}
	live, liveSets, now := r.live, r.liveSets, r.now
	var missing []firewall.Ban
	var sets []string
	if len(present) == 0 {
		live = nil // no set read in full or created: nothing to look up
	}
	for i, ban := range live {
		n := liveSets[i]
		in, read := present[n]
		if _, there := in[ban.Prefix]; read && !there &&
			!changes.Touched(firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix}) {
			missing, sets = append(missing, ban), append(sets, n)
		}
	}
	d.bans = addBatch(&d.batch, missing, sets, now)

	for i, v6 := range b.families() {
		have, err := b.readRules(ctx, v6)
		if err != nil {
			return nil, fmt.Errorf("ipset: check: %w", err)
		}
		d.have[i] = have
		wantRules := b.wantRules(v6)
		if sameRules(have, wantRules) {
			continue
		}
		d.relist[i] = true
		found := map[rule]bool{}
		for _, r := range have {
			found[r.rule] = true
		}
		for _, r := range wantRules {
			if !found[r] {
				d.rules[i]++
			}
		}
	}
	return d, nil
}
