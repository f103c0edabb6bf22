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

func (d *drift) repair() firewall.Repair {
	return firewall.Repair{Objects: d.sets + d.rules[0] + d.rules[1], Bans: d.bans}
}

// Check implements firewall.Healer: one "ipset save" and one "iptables -S"
// per family are compared with the installed jails and want.
func (b *Backend) Check(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	if err := ctx.Err(); err != nil {
		return firewall.Repair{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	d, err := b.diff(ctx, want)
	if err != nil {
		return firewall.Repair{}, err
	}
	return d.repair(), nil
}

// Heal implements firewall.Healer: missing sets and elements go back in
// one ipset batch, then each family whose rules differ gets them rewritten
// in one iptables-restore batch.
func (b *Backend) Heal(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	if err := ctx.Err(); err != nil {
		return firewall.Repair{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	d, err := b.diff(ctx, want)
	if err != nil {
		return firewall.Repair{}, err
	}
	rep := d.repair()
	if err := b.restore(ctx, d.batch.Bytes()); err != nil {
		return firewall.Repair{}, fmt.Errorf("ipset: heal: %w", err)
	}
	for i, v6 := range []bool{false, true} {
		if d.relist[i] {
			if err := b.replaceRules(ctx, v6, d.have[i], b.wantRules(v6)); err != nil {
				return firewall.Repair{}, fmt.Errorf("ipset: heal: %w", err)
			}
		}
	}
	if rep != (firewall.Repair{}) {
		b.log.Info("healed firewall", "objects", rep.Objects, "bans", rep.Bans)
	}
	return rep, nil
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
	saved, err := b.saveAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("ipset: check: %w", err)
	}
	present := map[string]map[netip.Prefix]bool{}
	for _, name := range b.order {
		for _, v6 := range []bool{false, true} {
			n := SetName(name, v6)
			s := saved[n]
			if s == nil {
				d.batch.WriteString(b.createLine(n, b.types[n], v6))
				d.sets++
				present[n] = map[netip.Prefix]bool{}
				continue
			}
			in := make(map[netip.Prefix]bool, len(s.elems))
			for _, e := range s.elems {
				in[e.prefix] = true
			}
			present[n] = in
		}
	}
	var missing []firewall.Ban
	var sets []string
	now := time.Now()
	for _, ban := range norm {
		if _, ok := b.jails[ban.Jail]; !ok {
			continue
		}
		if _, live := timeoutSecs(ban.Expires, now); !live {
			continue
		}
		n := SetName(ban.Jail, ban.Prefix.Addr().Is6())
		if !ban.Prefix.IsSingleIP() && b.types[n] != typeNet {
			continue // Ban refused it; nothing to put back
		}
		if !present[n][ban.Prefix] {
			missing, sets = append(missing, ban), append(sets, n)
		}
	}
	d.bans = addBatch(&d.batch, missing, sets, now)

	for i, v6 := range []bool{false, true} {
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
