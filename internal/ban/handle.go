package ban

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"warden/internal/action"
	"warden/internal/firewall"
	"warden/internal/jail"
	"warden/internal/logfmt"
	"warden/internal/store"
)

// banReq is one ticket of a batch: a Submit's or Ban's request, or one
// ticket of a SubmitAll's. It points into its request, which the batch
// holds.
type banReq struct {
	jail string
	t    *jail.Ticket
	done chan reply // nil: nobody waits
}

// pendingBan is a ban request of a batch on its way to the firewall.
type pendingBan struct {
	req   banReq
	e     *entry
	res   Result
	isNew bool // a new ban; otherwise a prolonged one
	// increased: bantime.increment made the new ban's time differ from
	// the jail's bantime (fail2ban's observer then logs "Increase Ban").
	increased bool
}

// handle serves one batch: bans are decided, then sent to every backend in
// one call, answered, recorded in the store in one transaction, and handed
// to the actions. Unban and sync requests are served in queue order around
// them.
func (m *Manager) handle(ctx context.Context, batch []*request) {
	m.mu.Lock()
	m.ctr.Batches++
	m.mu.Unlock()
	var marks []*mark
	bans := m.banReqs[:0]
	defer func() { m.banReqs = bans[:0] }() // the loop's, reused
	// A checkpoint needs only the changes queued before it written; it
	// does not end the run of bans (each jail checkpoints after every
	// batch of lines, and a flood would otherwise reach the firewall in
	// as many commits), but goes to the writer after the bans around it.
	flush := func() {
		if len(bans) > 0 {
			m.banBatch(ctx, bans)
			clear(bans) // no ticket kept past the batch
			bans = bans[:0]
		}
		for _, mk := range marks {
			m.w.push(storeOp{mark: mk})
		}
		marks = marks[:0]
	}
	for _, r := range batch {
		switch r.kind {
		case reqBan:
			if r.tickets == nil {
				bans = append(bans, banReq{jail: r.jail, t: &r.ticket, done: r.done})
				break
			}
			for i := range r.tickets {
				bans = append(bans, banReq{jail: r.jail, t: &r.tickets[i]})
			}
		case reqUnban:
			flush()
			// An operator's unban is answered once the database has it.
			n, err := m.unban(ctx, r)
			r.done <- reply{n: n, err: errors.Join(err, m.w.wait(ctx))}
		case reqMark:
			marks = append(marks, r.mark)
		case reqSync:
			flush()
			if m.hs.active {
				m.finishHeal(ctx, <-m.hs.done)
			}
			r.done <- reply{err: m.w.wait(ctx)}
		}
	}
	flush()
}

// target returns the prefix a ticket bans.
func target(t jail.Ticket) (netip.Prefix, error) {
	p := t.Prefix
	if !p.IsValid() && t.Addr.IsValid() {
		p = netip.PrefixFrom(t.Addr, t.Addr.BitLen())
	}
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("%w: ticket %q", ErrBadTarget, t.ID)
	}
	p, err := firewall.ValidatePrefix(p)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: ticket %q: %w", ErrBadTarget, t.ID, err)
	}
	return p, nil
}

// decide works out what one ban request does. It reads the store for the
// history when bantime.increment is on; the state is changed by the caller.
func (m *Manager) decide(ctx context.Context, r banReq, now time.Time, inBatch map[jailPrefix]*pendingBan) (*pendingBan, error) {
	m.mu.Lock()
	js, ok := m.jails[r.jail]
	var btc jail.BanTimeConfig
	if ok {
		btc = js.cfg.BanTime
	}
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownJail, r.jail)
	}
	p, err := target(*r.t)
	if err != nil {
		return nil, err
	}
	start := r.t.Time
	if start.IsZero() || start.After(now) {
		start = now
	}
	cfg := &btc
	key := jailPrefix{r.jail, p}
	var old *entry
	m.mu.Lock()
	if e, ok := m.bans.get(js.idx, p); ok {
		old = &e
	}
	m.mu.Unlock()
	if pb := inBatch[key]; pb != nil {
		old = pb.e
	}
	if old != nil {
		// Already banned: as fail2ban, the new ticket brings the jail's
		// plain bantime; when it would end later, the ban is prolonged to
		// end bantime after the new ticket.
		bt := cfg.BanTime
		res := Result{Already: true, BanTime: old.banTime, End: old.end(), Count: int(old.count)}
		newEnd, oldEnd := start.Add(bt), old.end()
		longer := old.banTime >= 0 && (bt < 0 || newEnd.After(oldEnd))
		if !longer {
			return &pendingBan{req: r, res: res}, nil
		}
		e := *old
		if e.more == nil {
			// A jail without actions keeps no lines in memory (see
			// hasActions): the store's row gets the new ticket's.
			e.more = &entryMore{id: r.t.ID, matches: r.t.Matches}
		}
		if bt < 0 {
			e.banTime = jail.Forever
		} else {
			e.banTime = bt + max(0, start.Sub(old.begins()))
		}
		res.Prolonged, res.BanTime, res.End = true, e.banTime, e.end()
		// A ban new in this very batch stays new: the actions still
		// have to ban it, once, with its final time.
		isNew := inBatch[key] != nil && inBatch[key].isNew
		increased := isNew && inBatch[key].increased
		return &pendingBan{req: r, e: &e, res: res, isNew: isNew, increased: increased}, nil
	}
	hist := jail.History{}
	if cfg.Increment && cfg.BanTime > 0 {
		hj := r.jail
		if cfg.OverallJails {
			hj = ""
		}
		// The history must include the bans still on their way to the
		// database.
		if m.w.pending() {
			if err := m.w.wait(ctx); err != nil {
				return nil, err
			}
		}
		h, err := m.cfg.Store.BanHistory(ctx, p, hj)
		if err != nil {
			m.log.Error("ban history lookup failed; banning as a first offence", "jail", r.jail, "prefix", p, "err", err)
			m.countStoreError()
		} else {
			hist = jail.History{Count: h.Count, Last: h.Last}
		}
	}
	bt := jail.BanTime(cfg, hist)
	// A new ban's decision and entry are allocated together (a flood
	// makes 100,000 of them); the table copies the entry, so neither is
	// kept past the batch.
	nb := &newBan{e: entry{jail: r.jail, prefix: p, start: start.UnixNano(), banTime: bt,
		count: int32(hist.Count + 1), failures: int32(r.t.Failures)}}
	e := &nb.e
	if len(r.t.Matches) > 0 || m.hasActions(r.jail) {
		// Only actions read the id and fields, and the store the lines.
		e.more = &entryMore{id: r.t.ID, matches: r.t.Matches, fields: r.t.Fields}
	}
	res := Result{BanTime: bt, End: e.end(), Count: int(e.count)}
	if bt >= 0 && e.end().Before(now) {
		res.Expired = true
		return &pendingBan{req: r, res: res}, nil
	}
	res.Banned = true
	nb.pb = pendingBan{req: r, e: e, res: res, isNew: true, increased: cfg.Increment && cfg.BanTime > 0 && bt != cfg.BanTime}
	return &nb.pb, nil
}

// newBan is a new ban's pendingBan and entry in one allocation.
type newBan struct {
	pb pendingBan
	e  entry
}

type jailPrefix struct {
	jail   string
	prefix netip.Prefix
}

// banBatch decides, applies and records a run of ban requests.
func (m *Manager) banBatch(ctx context.Context, reqs []banReq) {
	now := m.clock.Now()
	// The map is the loop's own, emptied after each batch, so that a
	// flood's thousands of batches do not each build one afresh.
	if m.inBatch == nil {
		m.inBatch = make(map[jailPrefix]*pendingBan, len(reqs))
	}
	inBatch := m.inBatch
	defer clear(inBatch)
	pend := make([]*pendingBan, 0, len(reqs))
	for _, r := range reqs {
		pb, err := m.decide(ctx, r, now, inBatch)
		if err != nil {
			if r.done != nil {
				r.done <- reply{err: err}
			} else {
				m.log.Warn("ban refused", "jail", r.jail, "ticket", r.t.ID, "err", err)
			}
			continue
		}
		pend = append(pend, pb)
		if pb.e != nil {
			inBatch[jailPrefix{pb.e.jail, pb.e.prefix}] = pb
		}
	}
	// Only the last decision for a jail and prefix reaches the firewall
	// and the store; earlier ones in the batch were superseded.
	final := make([]*pendingBan, 0, len(inBatch))
	fw := make([]firewall.Ban, 0, len(inBatch))
	for _, pb := range pend {
		if pb.e == nil || inBatch[jailPrefix{pb.e.jail, pb.e.prefix}] != pb {
			continue
		}
		final = append(final, pb)
		fw = append(fw, firewall.Ban{Jail: pb.e.jail, Prefix: pb.e.prefix, Expires: pb.e.end()})
	}
	fwErr := m.firewallBan(ctx, fw)

	// The rows for the store, and the action jobs, are taken before the
	// entries are installed: an entry of a jail without actions then drops
	// its matched lines and fields, which only the store and actions read.
	var rows *rowBatch
	type jailJob struct {
		jail string
		job  job
	}
	var jobs []jailJob
	if len(final) > 0 {
		rows = &rowBatch{rows: make([]row, 0, len(final))}
	}
	for _, pb := range final {
		rows.add(m.jails[pb.e.jail].idx, pb.e)
		if !m.hasActions(pb.e.jail) {
			pb.e.more = nil
			continue
		}
		o := opProlong
		if pb.isNew {
			o = opBan
		}
		jobs = append(jobs, jailJob{pb.e.jail, job{op: o, prefix: pb.e.prefix, ticket: m.ticket(pb.e)}})
	}

	// Install the state before answering, so a caller sees its ban listed.
	m.mu.Lock()
	for _, pb := range final {
		js := m.jails[pb.e.jail]
		if !m.bans.put(js.idx, pb.e) {
			js.total++
		}
	}
	m.mu.Unlock()
	for _, pb := range pend {
		if pb.e != nil {
			pb.res.Err = fwErr
		}
		if pb.req.done != nil {
			pb.req.done <- reply{res: pb.res}
		}
		if pb.res.Already && !pb.res.Prolonged {
			m.log.Debug(logfmt.MsgAlreadyBanned, "jail", pb.req.jail, "prefix", pb.req.t.ID)
			m.recheck(pb.req.jail, *pb.req.t)
		}
	}
	if len(final) == 0 {
		return
	}
	m.hs.lastBans = now
	m.hs.burst += len(final)
	m.w.push(storeOp{add: rows})
	m.logBans(ctx, final)
	for _, jb := range jobs {
		m.pool.add(jb.jail, jb.job)
	}
}

// firewallBan sends bans to every backend, one call each.
func (m *Manager) firewallBan(ctx context.Context, bans []firewall.Ban) error {
	if len(bans) == 0 {
		return nil
	}
	var errs []error
	for _, b := range m.cfg.Backends {
		err := b.Ban(ctx, bans)
		m.mu.Lock()
		m.ctr.FirewallBans++
		if err != nil {
			m.ctr.FirewallErrors++
		}
		m.mu.Unlock()
		if err != nil {
			m.log.Error("firewall ban failed", "backend", b.Name(), "bans", len(bans), "err", err)
			errs = append(errs, fmt.Errorf("ban: firewall %s: %w", b.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// firewallUnban lifts bans in every backend, one call each.
func (m *Manager) firewallUnban(ctx context.Context, bans []firewall.Ban) error {
	if len(bans) == 0 {
		return nil
	}
	var errs []error
	for _, b := range m.cfg.Backends {
		err := b.Unban(ctx, bans)
		m.mu.Lock()
		m.ctr.FirewallUnbans++
		if err != nil {
			m.ctr.FirewallErrors++
		}
		m.mu.Unlock()
		if err != nil {
			m.log.Error("firewall unban failed", "backend", b.Name(), "bans", len(bans), "err", err)
			errs = append(errs, fmt.Errorf("ban: firewall %s: %w", b.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) countStoreError() {
	m.mu.Lock()
	m.ctr.StoreErrors++
	m.mu.Unlock()
}

// ticket is e as an action ticket.
func (m *Manager) ticket(e *entry) action.Ticket {
	t := action.Ticket{
		ID: e.id(), Failures: int(e.failures), Time: e.begins(), BanTime: e.banTime,
		BanCount: int(e.count), Restored: e.restored, Matches: e.matches(), Fields: e.fields(),
	}
	if e.prefix.IsSingleIP() {
		t.Addr = e.prefix.Addr()
	} else {
		t.Prefix = e.prefix
	}
	if t.ID == "" {
		t.ID = e.prefix.String()
		if e.prefix.IsSingleIP() {
			t.ID = e.prefix.Addr().String()
		}
	}
	if e.banTime < 0 {
		t.BanTime = jail.Forever
	}
	// <ipmatches>, <ipjailmatches>, <ipfailures>, <ipjailfailures>: what
	// the database knows of the address, in all jails or in this one,
	// looked up only when a command uses the tag.
	evidence := func(j string) func(ctx context.Context) store.Evidence {
		return func(ctx context.Context) store.Evidence {
			ev, err := m.cfg.Store.BanEvidence(ctx, e.prefix, j)
			if err != nil {
				m.log.Warn("ban evidence lookup failed", "jail", e.jail, "prefix", e.prefix, "err", err)
				return store.Evidence{Failures: int(e.failures), Matches: e.matches()}
			}
			return ev
		}
	}
	all, own := evidence(""), evidence(e.jail)
	t.IPMatches = func(ctx context.Context) []string { return all(ctx).Matches }
	t.IPJailMatches = func(ctx context.Context) []string { return own(ctx).Matches }
	t.IPFailures = func(ctx context.Context) int { return all(ctx).Failures }
	t.IPJailFailures = func(ctx context.Context) int { return own(ctx).Failures }
	return t
}

// lift removes entries from the state, the firewall and the store, and
// queues their actions' unbans. The entries must be out of the table
// already.
func (m *Manager) lift(ctx context.Context, es []entry, forget bool) error {
	if len(es) == 0 {
		return nil
	}
	fw := make([]firewall.Ban, len(es))
	byJail := map[string][]netip.Prefix{}
	for i, e := range es {
		fw[i] = firewall.Ban{Jail: e.jail, Prefix: e.prefix, Expires: e.end()}
		byJail[e.jail] = append(byJail[e.jail], e.prefix)
	}
	err := m.firewallUnban(ctx, fw)
	if m.hs.active {
		m.hs.lifted = append(m.hs.lifted, fw...)
	}
	for j, ps := range byJail {
		m.w.push(storeOp{jail: j, remove: ps, forget: forget})
	}
	for i := range es {
		if e := &es[i]; m.hasActions(e.jail) {
			m.pool.add(e.jail, job{op: opUnban, prefix: e.prefix, ticket: m.ticket(e)})
		}
	}
	return err
}

// expire lifts every ban whose end is at or before now.
func (m *Manager) expire(ctx context.Context, now time.Time) {
	m.mu.Lock()
	due := m.bans.popDue(now)
	m.ctr.Expired += int64(len(due))
	m.mu.Unlock()
	for _, e := range due {
		m.log.Log(ctx, logfmt.LevelNotice, logfmt.MsgUnban, "jail", e.jail, "prefix", e.prefix.String(), "reason", "expired")
	}
	_ = m.lift(ctx, due, false)
}

// unban serves an operator's unban request.
func (m *Manager) unban(ctx context.Context, r *request) (int, error) {
	m.mu.Lock()
	var states []*jailState
	if r.jail == "" {
		for _, js := range m.jails {
			states = append(states, js)
		}
	} else if js, ok := m.jails[r.jail]; ok {
		states = append(states, js)
	} else {
		m.mu.Unlock()
		return 0, fmt.Errorf("%w: %s", ErrUnknownJail, r.jail)
	}
	var es []entry
	for _, js := range states {
		if r.all {
			m.bans.each(js.idx, false, func(e entry) { es = append(es, e) })
			continue
		}
		for _, p := range r.prefixes {
			if c, err := firewall.ValidatePrefix(p); err == nil {
				p = c
			}
			if e, ok := m.bans.get(js.idx, p); ok {
				es = append(es, e)
			}
		}
	}
	for _, e := range es {
		m.bans.del(m.jails[e.jail].idx, e.prefix)
	}
	m.mu.Unlock()
	if len(es) == 0 && !r.all {
		return 0, fmt.Errorf("%w: %v", ErrNotBanned, r.prefixes)
	}
	for _, e := range es {
		m.log.Log(ctx, logfmt.LevelNotice, logfmt.MsgUnban, "jail", e.jail, "prefix", e.prefix.String(), "reason", "operator")
	}
	return len(es), m.lift(ctx, es, !r.all)
}

// recheck queues a reban of an address already banned for the actions that
// were repaired since its ban (fail2ban's ban epochs).
func (m *Manager) recheck(jailName string, t jail.Ticket) {
	p, err := target(t)
	if err != nil {
		return
	}
	m.mu.Lock()
	e, ok := m.bans.get(m.jails[jailName].idx, p)
	m.mu.Unlock()
	if ok && m.hasActions(jailName) {
		m.pool.add(jailName, job{op: opRecheck, prefix: p, ticket: m.ticket(&e)})
	}
}

// logBans writes the line of each new or prolonged ban: at NOTICE, which
// the server's text log words as fail2ban's "[jail] Ban ADDR" (recidive and
// monitoring read it; see internal/logfmt). A flood logs 100,000 of them,
// so each record goes straight to the jail's handler (whose name attribute
// is formatted once) with typed attributes: no caller lookup, no boxing;
// the prefix's text is the only allocation of a line.
func (m *Manager) logBans(ctx context.Context, final []*pendingBan) {
	var js *jailState
	for _, pb := range final {
		if js == nil || js.cfg.Name != pb.e.jail {
			js = m.jails[pb.e.jail]
		}
		h := js.log.Handler()
		if !h.Enabled(ctx, logfmt.LevelNotice) {
			return
		}
		msg := logfmt.MsgProlongBan
		if pb.isNew {
			msg = logfmt.MsgBan
		}
		r := slog.NewRecord(time.Now(), logfmt.LevelNotice, msg, 0)
		var pt [48]byte // room for an IPv6 prefix: one allocation, not String's two
		prefix := slog.String("prefix", string(pb.e.prefix.AppendTo(pt[:0])))
		bt := slog.Duration("bantime", pb.e.banTime)
		if pb.isNew {
			r.AddAttrs(prefix, bt, slog.Int64("count", int64(pb.e.count)))
		} else {
			r.AddAttrs(prefix, bt)
		}
		_ = h.Handle(ctx, r)
		if pb.increased {
			// fail2ban's observer words a ban that bantime.increment
			// lengthened once more, after its Ban line.
			r := slog.NewRecord(time.Now(), logfmt.LevelNotice, logfmt.MsgIncreaseBan, 0)
			r.AddAttrs(prefix, bt, slog.Int64("count", int64(pb.e.count)), slog.Time("end", pb.e.end()))
			_ = h.Handle(ctx, r)
		}
	}
}
