package action

import (
	"context"
	"errors"
)

// Started bits of a family.
const (
	stStarted = 1
	stBans    = 2
)

// dedupOps remember across calls which command they ran for which family,
// so a command that is the same for inet4 and inet6 runs once; starting
// clears the stop record and stopping the start record.
var dedupOps = map[string]string{"actionstart": "actionstop", "actionstop": "actionstart"}

// ranElsewhere tells whether cmd of op already ran for another family.
func (a *Action) ranElsewhere(op, fam, cmd string, thisCall map[string]string) bool {
	recs := thisCall
	if _, ok := dedupOps[op]; ok {
		recs = a.executed[op]
	}
	for f, c := range recs {
		if f != fam && c == cmd {
			return true
		}
	}
	return false
}

// record notes (or, with cmd "", forgets) the command op ran for fam;
// forgetting also drops the other families that ran the same command.
func (a *Action) record(op, fam, cmd string, thisCall map[string]string) {
	recs := thisCall
	if _, ok := dedupOps[op]; ok {
		recs = a.executed[op]
		if recs == nil {
			recs = map[string]string{}
			a.executed[op] = recs
		}
	}
	if cmd != "" {
		recs[fam] = cmd
		return
	}
	old, ok := recs[fam]
	if !ok {
		return
	}
	delete(recs, fam)
	for f, c := range recs {
		if c == old {
			delete(recs, f)
		}
	}
}

// runOperation runs op (start, stop, flush, reload) for each family; with
// no families given, for every started one. after learns each outcome.
func (a *Action) runOperation(ctx context.Context, op string, fams []string, after func(fam string, ok bool)) error {
	if fams == nil {
		fams = a.started.where(func(v int) bool { return v != 0 })
	}
	thisCall := map[string]string{}
	var errs []error
	for _, fam := range fams {
		cmd, err := a.operation(op, fam)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ok := true
		if cmd != "" && !a.ranElsewhere(op, fam, cmd, thisCall) {
			vals := &tagValues{ctx: ctx, t: &Ticket{Time: a.now()}, family: fam, bantime: a.bantime}
			ok = a.exec(ctx, expandDynamic(cmd, vals.value, vals.field, a.extra, op, fam))
			if !ok {
				errs = append(errs, ErrFailed)
			}
		}
		if after != nil {
			after(fam, ok)
		}
		if !ok {
			cmd = ""
		}
		a.record(op, fam, cmd, thisCall)
	}
	if len(errs) > 0 {
		return a.fail(op, "", errors.Join(errs...))
	}
	return nil
}

// Start runs actionstart for every family, unless the action starts on
// demand (it has family variants): then the first ban of a family starts
// it.
func (a *Action) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.start(ctx, nil, false)
}

func (a *Action) start(ctx context.Context, fams []string, force bool) error {
	if a.onDemand && !force {
		return nil
	}
	if fams == nil {
		fams = a.families
	}
	return a.runOperation(ctx, "actionstart", fams, func(fam string, ok bool) {
		if ok {
			a.record("actionstop", fam, "", nil)
			a.started.set(fam, stStarted)
		}
	})
}

// Stop runs actionstop for every started family.
func (a *Action) Stop(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	fams := a.started.where(func(v int) bool { return v != 0 })
	if len(fams) == 0 {
		return nil
	}
	a.started = newFamState()
	return a.stop(ctx, fams)
}

func (a *Action) stop(ctx context.Context, fams []string) error {
	return a.runOperation(ctx, "actionstop", fams, func(fam string, ok bool) {
		if ok {
			a.record("actionstart", fam, "", nil)
		}
	})
}

// stopFamily stops one family (for a repair by restart).
func (a *Action) stopFamily(ctx context.Context, fam string) error {
	if _, ok := a.started.get(fam); !ok {
		return nil
	}
	a.started.set(fam, 0)
	return a.stop(ctx, []string{fam})
}

// Flush runs actionflush for every family that holds bans: it removes
// them all at once, instead of one unban per ticket.
func (a *Action) Flush(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	fams := a.started.where(func(v int) bool { return v&(stStarted|stBans) == stStarted|stBans })
	if len(fams) == 0 {
		return nil
	}
	return a.runOperation(ctx, "actionflush", fams, func(fam string, ok bool) {
		if v, _ := a.started.get(fam); ok && v != 0 {
			a.started.set(fam, v&^stBans)
		}
	})
}

// Reload runs actionreload for every started family.
func (a *Action) Reload(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runOperation(ctx, "actionreload", nil, nil)
}

// Ban runs actionban for t, first starting t's family when the action
// starts on demand.
func (a *Action) Ban(ctx context.Context, t Ticket) error {
	return a.ban(ctx, t, "actionban")
}

// Reban runs actionreban (actionban when there is none) for a ticket
// banned before, after a restart or a repair.
func (a *Action) Reban(ctx context.Context, t Ticket) error {
	op := "actionban"
	if a.hasReban {
		op = "actionreban"
	}
	return a.ban(ctx, t, op)
}

func (a *Action) ban(ctx context.Context, t Ticket, op string) error {
	if err := t.check(); err != nil {
		return a.fail(op, "", err)
	}
	addr, ip := TicketAddr(&t)
	fam := family(addr)
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, _ := a.started.get(fam); a.onDemand && v == 0 {
		if err := a.start(ctx, []string{fam}, true); err != nil {
			return err
		}
	}
	ok, err := a.process(ctx, op, &t, fam)
	if err != nil || !ok {
		return a.fail(op, ip, err)
	}
	v, _ := a.started.get(fam)
	a.started.set(fam, v|stStarted|stBans)
	return nil
}

// Prolong runs actionprolong for t, whose ban time grew.
func (a *Action) Prolong(ctx context.Context, t Ticket) error {
	return a.simple(ctx, t, "actionprolong", false)
}

// Unban runs actionunban for t when t's family holds bans.
func (a *Action) Unban(ctx context.Context, t Ticket) error {
	return a.simple(ctx, t, "actionunban", true)
}

func (a *Action) simple(ctx context.Context, t Ticket, op string, needBans bool) error {
	if err := t.check(); err != nil {
		return a.fail(op, "", err)
	}
	addr, ip := TicketAddr(&t)
	fam := family(addr)
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, _ := a.started.get(fam); needBans && v&stBans == 0 {
		return nil
	}
	ok, err := a.process(ctx, op, &t, fam)
	if err != nil || !ok {
		return a.fail(op, ip, err)
	}
	return nil
}

// process runs op for a ticket; when it fails and the action has an
// actioncheck, the check (and repair) runs and op is tried once more.
func (a *Action) process(ctx context.Context, op string, t *Ticket, fam string) (bool, error) {
	vals := &tagValues{ctx: ctx, t: t, family: fam, bantime: a.bantime}
	for try := 0; ; try++ {
		if try > 0 && a.hasCheck {
			before := func() bool {
				if op == "actionunban" && !a.repairUnb {
					_, ip := TicketAddr(t)
					a.log.Error("invariant check failed, unban is impossible", "ip", ip)
					return false
				}
				return true
			}
			if a.invariantCheck(ctx, fam, before, op != "actionunban") != 1 {
				return false, nil
			}
		}
		cmd, err := a.static(op, fam)
		if err != nil {
			return false, err
		}
		ok := a.exec(ctx, expandDynamic(cmd, vals.value, vals.field, a.extra, op, fam))
		if ok || try > 0 {
			return ok, nil
		}
	}
}

// Check runs actioncheck for every started family and repairs a family
// whose check fails (actionrepair, else stop and start). It reports
// ErrFailed when some family could not be made sane; that family counts
// as not started.
func (a *Action) Check(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.hasCheck {
		return nil
	}
	failed := false
	for _, fam := range a.started.where(func(v int) bool { return v != 0 }) {
		if a.invariantCheck(ctx, fam, nil, true) == 0 {
			a.started.set(fam, 0)
			a.record("actionstart", fam, "", nil)
			failed = true
		}
	}
	if failed {
		return a.fail("actioncheck", "", nil)
	}
	return nil
}

// invariantCheck runs actioncheck for fam and, when it fails, repairs:
// 1 = sane (or repaired), 0 = broken, -1 = broken and before said not to
// repair.
func (a *Action) invariantCheck(ctx context.Context, fam string, before func() bool, force bool) int {
	if _, ok := a.started.get(fam); !force && !ok {
		return 1
	}
	check, err := a.operation("actioncheck", fam)
	if err != nil {
		a.log.Error("actioncheck", "err", err)
		return 0
	}
	if check == "" || a.exec(ctx, Command{Script: check, Op: "actioncheck", Family: fam}) {
		return 1
	}
	if before != nil && !before() {
		return -1
	}
	a.log.Error("invariant check failed, trying to restore a sane environment", "family", fam)
	a.epoch++
	repair, err := a.operation("actionrepair", fam)
	if err != nil {
		a.log.Error("actionrepair", "err", err)
		return 0
	}
	if repair != "" {
		if !a.exec(ctx, Command{Script: repair, Op: "actionrepair", Family: fam}) {
			a.started.set(fam, 0)
			a.log.Error("unable to restore environment", "family", fam)
			return 0
		}
		a.started.set(fam, stStarted)
	} else {
		_ = a.stopFamily(ctx, fam) // a failed stop does not stop the restart
		if err := a.start(ctx, []string{fam}, force || !a.onDemand); err != nil {
			// fail2ban gives up on the operation here.
			a.log.Error("restart after failed check", "err", err)
			return 0
		}
	}
	if v, _ := a.started.get(fam); v != 0 && !a.exec(ctx, Command{Script: check, Op: "actioncheck", Family: fam}) {
		a.log.Error("unable to restore environment", "family", fam)
		return 0
	}
	return 1
}
