package ban

import (
	"context"
	"fmt"
	"sync"
	"time"

	"warden/internal/firewall"
	"warden/internal/jail"
	"warden/internal/logfmt"
	"warden/internal/store"
)

// restoreChunk is how many restored bans go to the firewall in one call:
// a backend builds its whole batch in memory (about 1 KB a ban for
// nftables), so 100,000 bans in one call cost over 100 MB at once.
const restoreChunk = 8192

// restore puts the bans recorded in the store back: into the state, into
// every backend (restoreChunk bans a call), and through the actions (as
// restored bans, skipped by actions with norestored). Bans that ended are
// dropped by the store; bans of jails not configured now stay in the store
// untouched.
//
// The rows are streamed from the store; matched lines are read only for
// jails with actions (the others never need them in memory).
func (m *Manager) restore(ctx context.Context) error {
	now := m.clock.Now()
	m.presize(ctx)
	var (
		fw      = make([]firewall.Ban, 0, restoreChunk)
		acted   []*entry // entries of jails with actions
		skipped int
		total   int
		fwErr   error
	)
	flush := func() {
		if err := m.firewallBan(ctx, fw); err != nil && fwErr == nil {
			fwErr = err
		}
		total += len(fw)
		fw = fw[:0]
	}
	err := m.cfg.Store.EachActiveBan(ctx, now, m.hasActions, func(b store.Ban) error {
		m.mu.Lock()
		js, ok := m.jails[b.Jail]
		if !ok {
			skipped++
			m.mu.Unlock()
			return nil
		}
		e := newEntry(js.cfg.Name, b.Prefix, b.Time, b.BanTime, b.Count, b.Failures)
		e.restored = true
		if b.Matches != nil {
			e.more = &entryMore{matches: b.Matches}
		}
		if e.banTime < 0 {
			e.banTime = jail.Forever
		}
		if !m.bans.put(js.idx, e) {
			js.total++
		}
		m.mu.Unlock()
		// fail2ban's "[jail] Restore Ban ADDR", which recidive skips.
		if js.log.Enabled(ctx, logfmt.LevelNotice) {
			js.log.Log(ctx, logfmt.LevelNotice, logfmt.MsgRestoreBan, "prefix", e.prefix.String())
		}
		if m.hasActions(e.jail) {
			acted = append(acted, e)
		}
		fw = append(fw, firewall.Ban{Jail: e.jail, Prefix: e.prefix, Expires: e.end()})
		if len(fw) == restoreChunk {
			flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ban: restore: %w", err)
	}
	flush()
	if fwErr != nil {
		m.log.Error("restoring bans in the firewall failed", "bans", total, "err", fwErr)
	}
	for _, e := range acted {
		m.pool.add(e.jail, job{op: opRestore, prefix: e.prefix, ticket: m.ticket(e)})
	}
	m.log.Info("bans restored", "bans", total, "unknown_jail", skipped)
	if total >= SettleBans && m.cfg.Settled != nil {
		m.cfg.Settled()
	}
	return nil
}

// banCounter is a Store that can count its bans cheaply (*store.Store).
type banCounter interface {
	CountBans(ctx context.Context) (map[string]int, error)
}

// presize sizes the ban table's index and expiry heap for the bans about
// to be restored: grown one ban at a time, 100,000 of them leave as much
// garbage again as the final tables, at the moment the heap is largest.
func (m *Manager) presize(ctx context.Context) {
	c, ok := m.cfg.Store.(banCounter)
	if !ok {
		return
	}
	counts, err := c.CountBans(ctx)
	if err != nil {
		return // the restore reports the store's trouble
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	total := 0
	for name := range m.jails {
		total += counts[name]
	}
	m.bans.reserve(m.bans.n + total)
}

// hasActions reports whether jail has shell actions. Bans of jails without
// keep neither matched lines nor fields in memory: the store has the
// lines, and nothing else would read them.
func (m *Manager) hasActions(jail string) bool { return len(m.pool.actions[jail]) > 0 }

// Wanted returns every active ban as the firewall should hold it. It reads
// the ban table a chunk of records at a time, letting go of the lock in
// between, so the list is not one instant's (see banTable.wanted): a ban
// put in place while it reads may be missing (it is in the firewall
// already: it went there before Wanted could see it), and one lifted while
// it reads may be listed (a heal round lifts those again when it ends; see
// healState).
func (m *Manager) Wanted() []firewall.Ban { return m.bans.wanted(&m.mu) }

// healState is the loop's view of a heal round. Heal reads the firewall
// back, which takes seconds at 100,000 bans, so it runs on a goroutine of
// its own while the loop goes on banning. A ban lifted meanwhile may be put
// back by Heal from its older snapshot; the loop lifts those again when the
// round ends. Only the loop goroutine touches active and lifted.
type healState struct {
	done   chan []healReport // buffered 1; one round at a time
	active bool
	lifted []firewall.Ban
	wg     sync.WaitGroup
	began  time.Time     // real time the running round started
	took   time.Duration // real time the last round took
	// lastBans is when (by Clock) the last batch put bans in force;
	// burst counts the bans of the current burst (bans less than
	// healQuiet apart).
	lastBans time.Time
	burst    int
	// lastFlood is when (by Clock) the loop last took a flood's batch
	// (floodBatch requests or more queued at once).
	lastFlood time.Time
}

// A due heal round is put off while a flood keeps the queue busy
// (healWait).
const (
	healQuiet = time.Second
	// healMaxDelay bounds the put-off: a foreign flush of the ruleset
	// must be mended within seconds even under a flood (issue 3 asks
	// for 5 s), and a round is due every HealInterval.
	healMaxDelay = 5 * time.Second
)

// healWait returns how long a heal round due at due is put off at now:
// until healQuiet has passed without a flood's batch (lastFlood), but never
// more than healMaxDelay past due. A round during a flood reads sets that
// grow while it reads them (about a second of CPU and 50 MB of garbage at
// 100,000 elements), and a dump of a set being filled can miss elements,
// which the round then puts back for nothing and which leave the next
// round complete too. Bans that come one by one, however steadily, never
// put a round off: they cost a round nothing, and a round that waited for
// a quiet second among them could wait for ever. Zero: start it now.
func healWait(now, due, lastFlood time.Time) time.Duration {
	quiet := lastFlood.Add(healQuiet)
	if !now.Before(quiet) || !now.Before(due.Add(healMaxDelay)) {
		return 0
	}
	return min(quiet.Sub(now), due.Add(healMaxDelay).Sub(now))
}

// healOwed reports whether a backend that can tell (HealNeeder) says a
// heal round is needed: for nftables, someone else changed the ruleset
// (our own commits, a flood's included, keep it verified). Such a round is
// not put off for a flood: a foreign flush is mended at the next round.
func (m *Manager) healOwed() bool {
	for _, b := range m.cfg.Backends {
		if _, ok := b.(firewall.Healer); !ok {
			continue
		}
		if n, ok := b.(HealNeeder); ok && n.HealNeeded() {
			return true
		}
	}
	return false
}

// healSpacing: a heal round starts at least this many times its
// predecessor's duration after the last start, so that reading a large
// firewall back (about a second of CPU for 100,000 elements, and as much
// garbage as the elements; 17% of the server's CPU during a 100,000-address
// flood with a spacing of 10) takes at most a thirtieth of the time
// whatever HealInterval says.
const healSpacing = 30

// healEvery is the time from one heal round's start to the next.
func (m *Manager) healEvery() time.Duration {
	return max(m.cfg.HealInterval, healSpacing*m.hs.took)
}

type healReport struct {
	backend string
	rep     firewall.Repair
	err     error
}

// HealNeeder is a firewall.Healer that can tell cheaply when a heal round
// would find nothing missing (the server's wrapper of the nftables backend
// compares the ruleset's generation). Such a backend is left out of a
// round it does not need, and a round no backend needs is not started:
// the list of 100,000 wanted bans is not even built.
type HealNeeder interface {
	HealNeeded() bool
}

// startHeal starts a heal round unless one is running.
func (m *Manager) startHeal(ctx context.Context) {
	if m.hs.active {
		return
	}
	var hs []firewall.Backend
	for _, b := range m.cfg.Backends {
		if _, ok := b.(firewall.Healer); !ok {
			continue
		}
		if n, ok := b.(HealNeeder); ok && !n.HealNeeded() {
			continue
		}
		hs = append(hs, b)
	}
	if len(hs) == 0 {
		return
	}
	// The list of wanted bans is built on the round's goroutine, not the
	// loop's: bans lifted from here on are in hs.lifted (active is set
	// first), and a ban made meanwhile is in the firewall already.
	m.hs.active = true
	m.hs.began = time.Now()
	m.hs.wg.Add(1)
	go func() {
		defer m.hs.wg.Done()
		want := m.Wanted()
		out := make([]healReport, len(hs))
		for i, b := range hs {
			rep, err := b.(firewall.Healer).Heal(ctx, want)
			out[i] = healReport{b.Name(), rep, err}
		}
		m.hs.done <- out
	}()
}

// finishHeal takes a round's reports: counts them and lifts again what was
// lifted while it ran.
func (m *Manager) finishHeal(ctx context.Context, reps []healReport) {
	m.hs.active = false
	m.hs.took = time.Since(m.hs.began)
	for _, r := range reps {
		if r.err != nil {
			m.log.Error("firewall heal failed", "backend", r.backend, "err", r.err)
			m.mu.Lock()
			m.ctr.FirewallErrors++
			m.mu.Unlock()
			continue
		}
		if r.rep.Objects > 0 || r.rep.Bans > 0 {
			m.log.Warn("firewall healed", "backend", r.backend, "objects", r.rep.Objects, "bans", r.rep.Bans)
			m.mu.Lock()
			m.ctr.Healed++
			m.ctr.HealedBans += int64(r.rep.Bans)
			m.ctr.HealedObjects += int64(r.rep.Objects)
			m.mu.Unlock()
		}
	}
	if lifted := m.stillLifted(m.hs.lifted); len(lifted) > 0 {
		_ = m.firewallUnban(ctx, lifted)
	}
	m.hs.lifted = nil
}

// stillLifted returns the bans of lifted that are not in force again: a
// ban lifted during a round and made again before its end is in the
// firewall by its own commit, and lifting it there would leave the
// address free while the table holds it banned.
func (m *Manager) stillLifted(lifted []firewall.Ban) []firewall.Ban {
	if len(lifted) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := lifted[:0]
	for _, b := range lifted {
		if js, ok := m.jails[b.Jail]; ok && m.bans.has(js.idx, b.Prefix) {
			continue
		}
		out = append(out, b)
	}
	return out
}
