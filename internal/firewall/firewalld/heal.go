package firewalld

import (
	"context"
	"fmt"
	"strings"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/kernelset"
)

// damage is what is missing compared with the jails given to Setup and the
// bans that should be active.
type damage struct {
	sets  []string     // kernel sets to create
	rules []directRule // direct rules to add
	bans  []firewall.Ban
}

// Repair implements firewall.Drift.
func (d damage) Repair() firewall.Repair {
	return firewall.Repair{Objects: len(d.sets) + len(d.rules), Bans: len(d.bans)}
}

// readBack is the kernel sets a heal read without the batch lock, and the
// wanted bans it read them for.
type readBack struct {
	mark    firewall.Mark
	sets    map[string]*kernelset.Set
	missing []firewall.Ban // wanted and not in sets
}

// lacking returns the bans of want not in sets, leaving out those that
// have ended (they belong in no set; the ban manager lifts them).
func (b *Backend) lacking(want []firewall.Ban, sets map[string]*kernelset.Set) []firewall.Ban {
	var out []firewall.Ban
	now := time.Now()
	for _, ban := range want {
		if _, live := kernelset.Timeout(ban.Expires, now); !live {
			continue
		}
		s := sets[setName(b.prefix, ban.Jail, ban.Prefix.Addr().Is6())]
		if s == nil {
			out = append(out, ban)
		} else if _, ok := s.Elems[ban.Prefix]; !ok {
			out = append(out, ban)
		}
	}
	return out
}

// validate normalises want and checks every ban's jail (ErrUnknownJail).
// jails is a map Setup installed (it replaces b.jails, never changes it in
// place), so validate may run without b.mu.
func validate(jails map[string]firewall.JailSpec, want []firewall.Ban) ([]firewall.Ban, error) {
	want, err := firewall.NormalizeBans(want)
	if err != nil {
		return nil, err
	}
	for _, ban := range want {
		if _, ok := jails[ban.Jail]; !ok {
			return nil, fmt.Errorf("ban %s: %w %q", ban.Prefix, firewall.ErrUnknownJail, ban.Jail)
		}
	}
	return want, nil
}

// readBack reads the kernel sets (`ipset save`, about half a second at
// 100,000 elements) and checks want without b.mu, taking it only to copy
// the installed jails and open a read in b.changes.
func (b *Backend) readBack(ctx context.Context, want []firewall.Ban, step string) (*readBack, error) {
	b.mu.Lock()
	jails, byName := b.jails, b.setJails()
	r := &readBack{mark: b.changes.Begin()}
	hooks := b.hooks
	b.mu.Unlock()
	want, err := validate(jails, want)
	if err == nil {
		r.sets, err = b.readSets(ctx, func(n string) bool { return byName[n] != "" })
	}
	if err != nil {
		b.mu.Lock()
		b.changes.End(r.mark)
		b.mu.Unlock()
		return nil, fmt.Errorf("firewalld: %s: %w", step, err)
	}
	r.missing = b.lacking(want, r.sets)
	if hooks.readDone != nil {
		hooks.readDone()
	}
	return r, nil
}

// diff reads firewalld's direct rules and compares them, and the kernel
// sets r read, with what should be there. Elements our own Ban and Unban
// changed since r was read are left be: banned since, they are there;
// unbanned since, they are no longer wanted. Without r, or when a Setup
// ran since, it reads the sets itself. Bans of jails not given to Setup
// are ErrUnknownJail. The caller holds b.mu.
func (b *Backend) diff(ctx context.Context, want []firewall.Ban, r *readBack) (damage, error) {
	var changes firewall.Changes
	if r != nil {
		if changes = b.changes.End(r.mark); changes.Reset {
			r = nil
		}
	}
	if r == nil {
		want, err := validate(b.jails, want)
		if err != nil {
			return damage{}, err
		}
		byName := b.setJails()
		r = &readBack{}
		if r.sets, err = b.readSets(ctx, func(n string) bool { return byName[n] != "" }); err != nil {
			return damage{}, err
		}
		r.missing = b.lacking(want, r.sets)
	}
	have, err := b.ourRules(ctx)
	if err != nil {
		return damage{}, err
	}
	sets := r.sets
	var d damage
	for _, jail := range b.order {
		for _, v6 := range []bool{false, true} {
			if name := setName(b.prefix, jail, v6); sets[name] == nil {
				d.sets = append(d.sets, name)
			}
		}
		for _, r := range jailRules(b.prefix, b.jails[jail]) {
			if _, ok := have[r.key()]; !ok {
				d.rules = append(d.rules, r)
			}
		}
	}
	for _, ban := range r.missing {
		if !changes.Touched(firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix}) {
			d.bans = append(d.bans, ban)
		}
	}
	return d, nil
}

// Check implements firewall.Healer.
func (b *Backend) Check(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	return firewall.ReconcileRead(ctx, &b.mu, b.reader(ctx, want, "check"), b.differ(ctx, want, "check"), nil)
}

// Heal implements firewall.Healer: missing sets and elements are put back
// with one `ipset restore`, then missing direct rules are added (one D-Bus
// call each; a jail has a handful). The sets are read without the batch
// lock, so a Ban does not wait for `ipset save`.
func (b *Backend) Heal(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	return firewall.ReconcileRead(ctx, &b.mu, b.reader(ctx, want, "heal"), b.differ(ctx, want, "heal"),
		func(d damage) error { return b.mend(ctx, d) })
}

// reader returns the read of want for ReconcileRead.
func (b *Backend) reader(ctx context.Context, want []firewall.Ban, step string) func() (*readBack, error) {
	return func() (*readBack, error) { return b.readBack(ctx, want, step) }
}

// differ returns the diff of want for ReconcileRead, its error named for
// step.
func (b *Backend) differ(ctx context.Context, want []firewall.Ban, step string) func(*readBack) (damage, error) {
	return func(r *readBack) (damage, error) {
		d, err := b.diff(ctx, want, r)
		if err != nil {
			return d, fmt.Errorf("firewalld: %s: %w", step, err)
		}
		return d, nil
	}
}

// mend puts back what d lacks. The caller holds b.mu.
func (b *Backend) mend(ctx context.Context, d damage) error {
	rep := d.Repair()
	if rep == (firewall.Repair{}) {
		return nil
	}
	var script strings.Builder
	for _, name := range d.sets {
		writeCreate(&script, name, name[len(b.prefix)] == '6')
	}
	buf := b.appendAdds([]byte(script.String()), d.bans, time.Now()) // jails checked by diff
	if len(buf) > 0 {
		if err := b.runIPSet(ctx, buf, "restore"); err != nil {
			return fmt.Errorf("firewalld: heal: %w", err)
		}
	}
	for _, r := range d.rules {
		if err := b.addRule(ctx, r); err != nil {
			return fmt.Errorf("firewalld: heal: %w", err)
		}
	}
	b.log.Debug("healed", "objects", rep.Objects, "bans", rep.Bans)
	return nil
}
