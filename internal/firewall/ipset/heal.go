package ipset

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"warden/internal/firewall"
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
	return firewall.Reconcile(ctx, &b.mu, func() (*drift, error) { return b.diff(ctx, want) }, nil)
}

// Heal implements firewall.Healer: missing sets and elements go back in
// one ipset batch, then each family whose rules differ gets them rewritten
// in one iptables-restore batch.
func (b *Backend) Heal(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	return firewall.Reconcile(ctx, &b.mu, func() (*drift, error) { return b.diff(ctx, want) },
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

// diff compares the kernel with the installed jails and want. Bans of
// jails not installed, and expired ones, are ignored.
func (b *Backend) diff(ctx context.Context, want []firewall.Ban) (*drift, error) {
	d := &drift{}
	if len(b.order) == 0 {
		return d, nil // nothing installed yet: nothing to heal
	}
	norm, err := firewall.NormalizeBans(want)
	if err != nil {
		return nil, fmt.Errorf("ipset: %w", err)
	}
	// The bans each installed set should hold.
	now := time.Now()
	var live []firewall.Ban
	var liveSets []string
	count := map[string]int{}
	last, installed := "", false
	var names [2]string // the last jail's set names, IPv4 and IPv6
	for i, ban := range norm {
		if i == 0 || ban.Jail != last {
			last = ban.Jail
			_, installed = b.jails[last]
			names = [2]string{SetName(last, false), SetName(last, true)}
		}
		if !installed {
			continue
		}
		if _, ok := timeoutSecs(ban.Expires, now); !ok {
			continue
		}
		n := names[0]
		if ban.Prefix.Addr().Is6() {
			n = names[1]
		}
		if !ban.Prefix.IsSingleIP() && b.types[n] != typeNet {
			continue // Ban refused it; nothing to put back
		}
		live, liveSets = append(live, ban), append(liveSets, n)
		count[n]++
	}

	// Cheap first look: set headers with their entry counts. Only when a
	// set holds a different number of entries than it should are all
	// members read ("ipset save"), which for 100,000 costs about 0.5 s.
	headers, err := b.listSets(ctx)
	if err != nil {
		return nil, fmt.Errorf("ipset: check: %w", err)
	}
	present := map[string]map[netip.Prefix]bool{} // sets read in full
	var detail []string
	for _, name := range b.order {
		for _, v6 := range b.families() {
			n := SetName(name, v6)
			h, ok := headers[n]
			switch {
			case !ok:
				d.batch.WriteString(b.createLine(n, b.types[n], v6))
				d.sets++
				present[n] = map[netip.Prefix]bool{}
			case h.entries != count[n]:
				detail = append(detail, n)
			}
		}
	}
	if len(detail) > 0 {
		saved, err := b.saveAll(ctx)
		if err != nil {
			return nil, fmt.Errorf("ipset: check: %w", err)
		}
		for _, n := range detail {
			in := map[netip.Prefix]bool{}
			if s := saved[n]; s != nil {
				for _, e := range s.elems {
					in[e.prefix] = true
				}
			}
			present[n] = in
		}
	}
	var missing []firewall.Ban
	var sets []string
	for i, ban := range live {
		n := liveSets[i]
		if in, read := present[n]; read && !in[ban.Prefix] {
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
