package ban

import (
	"context"
	"fmt"

	"warden/internal/firewall"
	"warden/internal/jail"
)

// restore puts the bans recorded in the store back: into the state, into
// every backend in one call, and through the actions (as restored bans,
// skipped by actions with norestored). Bans that ended are dropped by the
// store; bans of jails not configured now stay in the store untouched.
func (m *Manager) restore(ctx context.Context) error {
	now := m.clock.Now()
	rows, err := m.cfg.Store.ActiveBans(ctx, now)
	if err != nil {
		return fmt.Errorf("ban: restore: %w", err)
	}
	var (
		fw      []firewall.Ban
		es      []*entry
		skipped int
	)
	m.mu.Lock()
	for _, b := range rows {
		js, ok := m.jails[b.Jail]
		if !ok {
			skipped++
			continue
		}
		e := &entry{
			jail: b.Jail, prefix: b.Prefix, start: b.Time, banTime: b.BanTime,
			count: b.Count, failures: b.Failures, matches: b.Matches,
			restored: true, idx: -1,
		}
		if e.banTime < 0 {
			e.banTime = jail.Forever
		}
		if old := js.active[e.prefix]; old != nil {
			m.heap.untrack(old)
		} else {
			js.total++
		}
		js.active[e.prefix] = e
		m.heap.track(e)
		es = append(es, e)
		fw = append(fw, firewall.Ban{Jail: e.jail, Prefix: e.prefix, Expires: e.end()})
	}
	m.mu.Unlock()
	if err := m.firewallBan(ctx, fw); err != nil {
		m.log.Error("restoring bans in the firewall failed", "bans", len(fw), "err", err)
	}
	for _, e := range es {
		m.pool.add(e.jail, job{op: opRestore, prefix: e.prefix, ticket: m.ticket(e)})
	}
	m.log.Info("bans restored", "bans", len(es), "unknown_jail", skipped)
	return nil
}

// Wanted returns every active ban as the firewall should hold it.
func (m *Manager) Wanted() []firewall.Ban {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []firewall.Ban
	for _, js := range m.jails {
		for _, e := range js.active {
			out = append(out, firewall.Ban{Jail: e.jail, Prefix: e.prefix, Expires: e.end()})
		}
	}
	return out
}

// heal asks every backend that can to put back what it lost.
func (m *Manager) heal(ctx context.Context) {
	var want []firewall.Ban
	for _, b := range m.cfg.Backends {
		h, ok := b.(firewall.Healer)
		if !ok {
			continue
		}
		if want == nil {
			want = m.Wanted()
		}
		rep, err := h.Heal(ctx, want)
		if err != nil {
			m.log.Error("firewall heal failed", "backend", b.Name(), "err", err)
			m.mu.Lock()
			m.ctr.FirewallErrors++
			m.mu.Unlock()
			continue
		}
		if rep.Objects > 0 || rep.Bans > 0 {
			m.log.Warn("firewall healed", "backend", b.Name(), "objects", rep.Objects, "bans", rep.Bans)
			m.mu.Lock()
			m.ctr.Healed++
			m.ctr.HealedBans += int64(rep.Bans)
			m.ctr.HealedObjects += int64(rep.Objects)
			m.mu.Unlock()
		}
	}
}
