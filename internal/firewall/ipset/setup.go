package ipset

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"warden/internal/firewall"
)

// Setup implements firewall.Backend. It creates the sets that are missing
// (existing ones keep their elements), replaces our rules in each family
// with one atomic iptables-restore batch when they differ from what the
// jails need, and destroys the sets of jails no longer listed. A set whose
// type cannot hold what the jail asks (hash:ip where networks are wanted)
// is recreated with its elements, after a short gap without its rules.
func (b *Backend) Setup(ctx context.Context, jails []firewall.JailSpec) error {
	specs, err := firewall.NormalizeJails(jails)
	if err != nil {
		return fmt.Errorf("ipset: setup: %w", err)
	}
	names := map[string]jailFamily{}
	for _, j := range specs {
		for _, v6 := range []bool{false, true} {
			n := SetName(j.Name, v6)
			if other, dup := names[n]; dup {
				return fmt.Errorf("ipset: setup: %w %q: set name %s is also that of jail %q", firewall.ErrInvalidJail, j.Name, n, other.jail)
			}
			names[n] = jailFamily{j.Name, v6}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes.Reset() // a heal reading meanwhile reads again

	sets, err := b.listSets(ctx)
	if err != nil {
		return fmt.Errorf("ipset: setup: %w", err)
	}
	var rules [2][]ourRule
	if rules[0], err = b.readRules(ctx, false); err != nil {
		return fmt.Errorf("ipset: setup: %w", err)
	}
	had6 := b.v6
	if rules[1], err = b.readRules(ctx, true); err != nil {
		b.v6 = false
		if had6 {
			b.log.Warn("ip6tables unusable: filtering IPv4 only, IPv6 bans will be refused", "err", err)
		}
	} else {
		b.v6 = true
	}

	types := map[string]string{}
	var create bytes.Buffer
	var recreate []string
	for _, j := range specs {
		for _, v6 := range b.families() {
			n := SetName(j.Name, v6)
			want := typeHost
			if j.Networks {
				want = typeNet
			}
			have, ok := sets[n]
			switch {
			case !ok:
				create.WriteString(b.createLine(n, want, v6))
				types[n] = want
			case have.v6 == v6 && (have.typ == want || have.typ == typeNet):
				types[n] = have.typ // a network set serves host bans too
			default:
				recreate = append(recreate, n)
				types[n] = want
			}
		}
	}
	if len(recreate) > 0 {
		if err := b.recreate(ctx, recreate, types, names, rules); err != nil {
			return err
		}
		rules = [2][]ourRule{}
	}
	if err := b.restore(ctx, create.Bytes()); err != nil {
		return fmt.Errorf("ipset: setup: %w", err)
	}

	// Sets of jails that leave: those we installed, and those our rules
	// point at (left by an earlier run).
	retired := map[string]bool{}
	for n := range b.names {
		if _, keep := names[n]; !keep {
			retired[n] = true
		}
	}
	for i, v6 := range []bool{false, true} {
		for _, r := range rules[i] {
			if n := SetName(r.jail, v6); names[n].jail != r.jail {
				retired[n] = true
			}
		}
	}

	old := b.jails
	oldOrder := b.order
	b.jails, b.order = firewall.IndexJails(specs)
	for i, v6 := range b.families() {
		want := b.wantRules(v6)
		if sameRules(rules[i], want) {
			continue
		}
		if err := b.replaceRules(ctx, v6, rules[i], want); err != nil {
			b.jails, b.order = old, oldOrder
			return fmt.Errorf("ipset: setup: %w", err)
		}
	}
	b.names = names
	b.types = types

	var destroy bytes.Buffer
	for n := range retired {
		if _, ok := sets[n]; ok {
			fmt.Fprintf(&destroy, "destroy %s\n", n)
		}
	}
	if err := b.restore(ctx, destroy.Bytes()); err != nil {
		return fmt.Errorf("ipset: setup: remove old sets: %w", err)
	}
	b.log.Debug("setup done", "jails", len(specs), "created", bytes.Count(create.Bytes(), []byte("\n")), "removed", len(retired))
	return nil
}

// recreate rebuilds sets whose type must change: our rules are removed
// (a set in use cannot be destroyed), then each set is destroyed and made
// again with its elements, in one ipset batch. Setup adds the rules back.
func (b *Backend) recreate(ctx context.Context, list []string, types map[string]string, names map[string]jailFamily, rules [2][]ourRule) error {
	b.log.Warn("recreating sets whose type changed; their jails do not block until setup ends", "sets", list)
	for i, v6 := range []bool{false, true} {
		if len(rules[i]) == 0 {
			continue
		}
		if err := b.replaceRules(ctx, v6, rules[i], nil); err != nil {
			return fmt.Errorf("ipset: setup: %w", err)
		}
	}
	saved, err := b.saveAll(ctx)
	if err != nil {
		return fmt.Errorf("ipset: setup: %w", err)
	}
	var buf bytes.Buffer
	now := time.Now()
	for _, n := range list {
		jf := names[n]
		fmt.Fprintf(&buf, "destroy %s\n", n)
		buf.WriteString(b.createLine(n, types[n], jf.v6))
		var bans []firewall.Ban
		var sets []string
		if s := saved[n]; s != nil && s.V6 == jf.v6 {
			for p, timeout := range s.Elems {
				if types[n] == typeHost && !p.IsSingleIP() {
					continue
				}
				ban := firewall.Ban{Jail: jf.jail, Prefix: p}
				if timeout > 0 {
					ban.Expires = now.Add(time.Duration(timeout) * time.Second)
				}
				bans, sets = append(bans, ban), append(sets, n)
			}
		}
		addBatch(&buf, bans, sets, now)
	}
	if err := b.restore(ctx, buf.Bytes()); err != nil {
		return fmt.Errorf("ipset: setup: recreate sets: %w", err)
	}
	return nil
}

// Teardown implements firewall.Backend: our rules in both families go in
// one batch each, then the sets of the installed jails and those our rules
// referenced are destroyed.
func (b *Backend) Teardown(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes.Reset() // a heal reading meanwhile reads again
	doomed := map[string]bool{}
	for n := range b.names {
		doomed[n] = true
	}
	for _, v6 := range []bool{false, true} {
		rules, err := b.readRules(ctx, v6)
		if err != nil && v6 {
			b.log.Warn("ip6tables unusable at teardown: no IPv6 rules removed", "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("ipset: teardown: %w", err)
		}
		for _, r := range rules {
			doomed[SetName(r.jail, v6)] = true
		}
		if len(rules) > 0 {
			if err := b.replaceRules(ctx, v6, rules, nil); err != nil {
				return fmt.Errorf("ipset: teardown: %w", err)
			}
		}
	}
	sets, err := b.listSets(ctx)
	if err != nil {
		return fmt.Errorf("ipset: teardown: %w", err)
	}
	var buf bytes.Buffer
	for n := range doomed {
		if _, ok := sets[n]; ok {
			fmt.Fprintf(&buf, "destroy %s\n", n)
		}
	}
	b.jails = map[string]firewall.JailSpec{}
	b.order = nil
	b.names = map[string]jailFamily{}
	b.types = map[string]string{}
	if err := b.restore(ctx, buf.Bytes()); err != nil {
		return fmt.Errorf("ipset: teardown: %w", err)
	}
	return nil
}
