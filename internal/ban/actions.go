package ban

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"

	"warden/internal/action"
	"warden/internal/logfmt"
)

// Action is what the manager needs of a jail's action; *action.Action
// implements it.
type Action interface {
	Name() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Ban(ctx context.Context, t action.Ticket) error
	Reban(ctx context.Context, t action.Ticket) error
	Unban(ctx context.Context, t action.Ticket) error
	Prolong(ctx context.Context, t action.Ticket) error
	Prolongable() bool
	NoRestored() bool
	// Epoch counts the action's repairs; bans made under an older epoch
	// may be gone from what the action manages.
	Epoch() int
	// HasCheck tells whether the action can check what it manages
	// (actioncheck); only such actions are checked at each heal round.
	HasCheck() bool
	// Check checks what the action manages and repairs it when broken,
	// moving Epoch on a repair.
	Check(ctx context.Context) error
}

var _ Action = (*action.Action)(nil)

type op int

const (
	opBan op = iota
	opRestore
	opUnban
	opProlong
	opRecheck // a ticket for an address already banned: reban it where the action was repaired since
	opStart   // actionstart, queued first so a slow one delays only its jail's actions
	opCheck   // actioncheck of the jail's checkable actions; a repair queues a reban of every ban
)

func (o op) String() string {
	return [...]string{"ban", "restore", "unban", "prolong", "reban", "start", "check"}[o]
}

// job is one operation on one ticket for every action of a jail.
type job struct {
	op     op
	prefix netip.Prefix
	ticket action.Ticket
}

// pool runs action jobs on a bounded number of workers. Each jail has a FIFO
// of jobs and is served by at most one worker at a time, so a jail's actions
// run in the order the manager queued them (a ban before its unban) while
// other jails go on in parallel.
type pool struct {
	log     *slog.Logger
	actions map[string][]Action // by jail; fixed at New

	mu      sync.Mutex
	cond    *sync.Cond
	queues  map[string][]job
	busy    map[string]bool
	ready   []string // jails with queued jobs and no worker
	pending int      // jobs queued or running
	closed  bool
	idle    []waiter
	failed  int64
	done    int64
	// epochs holds, per banned prefix, the highest action epoch its ban
	// was applied under; written by the workers only.
	epochs map[jailPrefix]int
	// checking holds the jails with a check job queued or running, so
	// that a jail never has two.
	checking map[string]bool
	// recheck holds the jails whose running check started before the
	// firewall changed under it (check with after): one more check
	// follows.
	recheck map[string]bool

	// checkable holds the jails with an action that has a check; fixed
	// at New.
	checkable map[string]bool
	// repaired is called by a worker, with no lock held, when a check job
	// repaired an action of jail; the manager queues its rebans there.
	repaired func(jail string)
}

func newPool(log *slog.Logger, actions map[string][]Action, repaired func(jail string)) *pool {
	p := &pool{log: log, actions: actions, queues: map[string][]job{}, busy: map[string]bool{},
		epochs: map[jailPrefix]int{}, checking: map[string]bool{}, recheck: map[string]bool{},
		checkable: map[string]bool{}, repaired: repaired}
	for jail, as := range actions {
		for _, a := range as {
			if a.HasCheck() {
				p.checkable[jail] = true
			}
		}
	}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// check queues a check job for jail unless it has no checkable action or
// one is queued or running already. With after (the firewall just changed
// under the actions), a check already running is followed by one more, as
// it may have looked before the change.
func (p *pool) check(jail string, after bool) {
	if !p.checkable[jail] {
		return
	}
	p.mu.Lock()
	if p.checking[jail] {
		if after {
			p.recheck[jail] = true
		}
		p.mu.Unlock()
		return
	}
	p.checking[jail] = true
	p.mu.Unlock()
	p.add(jail, job{op: opCheck})
}

// runCheck checks jail's checkable actions and, when one was repaired
// (its epoch moved), has the manager reban the jail's bans.
func (p *pool) runCheck(ctx context.Context, jail string) bool {
	p.mu.Lock()
	delete(p.recheck, jail) // a change asked for before now is seen by this check
	p.mu.Unlock()
	ok, moved := true, false
	for _, a := range p.actions[jail] {
		if !a.HasCheck() {
			continue
		}
		before := a.Epoch()
		if err := a.Check(ctx); err != nil {
			ok = false
			p.log.Error("action check failed", "jail", jail, "action", a.Name(), "err", err)
		}
		if a.Epoch() != before {
			moved = true
			p.log.Warn("action repaired after a failed check; rebanning", "jail", jail, "action", a.Name())
		}
	}
	p.mu.Lock()
	delete(p.checking, jail)
	again := p.recheck[jail]
	p.mu.Unlock()
	if moved && p.repaired != nil {
		p.repaired(jail)
	}
	if again {
		p.check(jail, false)
	}
	return ok
}

// add queues jobs for jail; it never blocks on the workers.
func (p *pool) add(jail string, jobs ...job) {
	if len(p.actions[jail]) == 0 || len(jobs) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queues[jail]) == 0 && !p.busy[jail] {
		p.ready = append(p.ready, jail)
	}
	p.queues[jail] = append(p.queues[jail], jobs...)
	p.pending += len(jobs)
	p.cond.Signal()
}

// work is one worker's loop; it returns when the pool is closed and no job
// is left. ctx bounds the commands it runs.
func (p *pool) work(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for len(p.ready) == 0 && !p.closed {
			p.cond.Wait()
		}
		if len(p.ready) == 0 {
			return
		}
		jail := p.ready[0]
		p.ready = p.ready[1:]
		q := p.queues[jail]
		j := q[0]
		q[0] = job{}
		p.queues[jail] = q[1:]
		p.busy[jail] = true
		p.mu.Unlock()
		ok := p.run(ctx, jail, j)
		p.mu.Lock()
		p.busy[jail] = false
		if len(p.queues[jail]) > 0 {
			p.ready = append(p.ready, jail)
			p.cond.Signal()
		} else {
			delete(p.queues, jail)
		}
		p.done++
		if !ok {
			p.failed++
		}
		p.pending--
		keep := p.idle[:0]
		for _, w := range p.idle {
			if p.pending <= w.n {
				close(w.c)
			} else {
				keep = append(keep, w)
			}
		}
		p.idle = keep
	}
}

// run runs one job through every action of jail, as fail2ban does: a failing
// action is logged and the next one still runs.
func (p *pool) run(ctx context.Context, jail string, j job) bool {
	ok := true
	if j.op == opStart {
		for _, a := range p.actions[jail] {
			if err := a.Start(ctx); err != nil {
				ok = false
				p.log.Error("action start failed", "jail", jail, "action", a.Name(), "err", err)
			}
		}
		return ok
	}
	if j.op == opCheck {
		return p.runCheck(ctx, jail)
	}
	key := jailPrefix{jail, j.prefix}
	p.mu.Lock()
	banEpoch, known := p.epochs[key]
	p.mu.Unlock()
	if j.op == opRecheck && known {
		p.logReban(ctx, jail, j, banEpoch)
	}
	epoch := 0
	for _, a := range p.actions[jail] {
		var err error
		switch j.op {
		case opRecheck:
			// As fail2ban: only actions repaired since the ban reban it.
			if !known || a.Epoch() <= banEpoch {
				continue
			}
			err = a.Reban(ctx, j.ticket)
		case opBan:
			err = a.Ban(ctx, j.ticket)
		case opRestore:
			if a.NoRestored() {
				continue
			}
			err = a.Ban(ctx, j.ticket)
		case opUnban:
			err = a.Unban(ctx, j.ticket)
		case opProlong:
			if !a.Prolongable() {
				continue
			}
			err = a.Prolong(ctx, j.ticket)
		}
		if err != nil {
			ok = false
			p.log.Error("action failed", "jail", jail, "action", a.Name(), "op", j.op.String(), "ticket", j.ticket.ID, "err", err)
		}
		if j.op != opUnban {
			epoch = max(epoch, a.Epoch())
		}
	}
	p.mu.Lock()
	switch {
	case j.op == opUnban:
		delete(p.epochs, key)
	case j.op != opRecheck || known:
		p.epochs[key] = epoch
	}
	p.mu.Unlock()
	return ok
}

// logReban writes fail2ban's "[jail] Reban ADDR" line (NOTICE) before a
// recheck reapplies a ban, naming the action when it is the only one
// repaired since the ban; nothing when no action is to reban it.
func (p *pool) logReban(ctx context.Context, jail string, j job, banEpoch int) {
	n, name := 0, ""
	for _, a := range p.actions[jail] {
		if a.Epoch() > banEpoch {
			n++
			name = a.Name()
		}
	}
	if n == 0 {
		return
	}
	args := []any{"jail", jail, "prefix", j.prefix.String()}
	if n == 1 {
		args = append(args, "action", name)
	}
	p.log.Log(ctx, logfmt.LevelNotice, logfmt.MsgReban, args...)
}

// waiter waits until at most n jobs are queued or running.
type waiter struct {
	n int
	c chan struct{}
}

// wait returns when at most n jobs are queued or running, or when ctx ends.
func (p *pool) wait(ctx context.Context, n int) error {
	p.mu.Lock()
	if p.pending <= n {
		p.mu.Unlock()
		return nil
	}
	c := make(chan struct{})
	p.idle = append(p.idle, waiter{n, c})
	p.mu.Unlock()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close lets the workers return once the queues are empty.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// counts returns jobs queued or running, done and failed.
func (p *pool) counts() (pending int, done, failed int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending, p.done, p.failed
}
