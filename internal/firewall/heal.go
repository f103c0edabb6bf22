package firewall

import (
	"context"
	"net/netip"
	"sync"
)

// Drift is what a backend's comparison of the firewall with its jails and
// wanted bans found missing.
type Drift interface {
	// Repair counts what is missing.
	Repair() Repair
}

// ReconcileRead is the bookkeeping every Healer shares for Check and
// Heal: it fails at once on a done ctx, then runs read WITHOUT mu (the
// backend's batch lock), so Ban and Unban are not held up by the slow
// reading back of the firewall; diff (given what read returned) and, for a
// Heal (fix not nil), fix then run under mu, so no Ban or Setup slips in
// between measuring and mending. The state read may be stale by the time
// mu is held; diff must correct it for the backend's own commits in
// between (see ChangeLog) and may fall back to reading again under mu when
// it cannot. fix decides for itself whether a drift that counts nothing
// needs work (a rule out of order counts as nothing missing, yet may be
// rewritten). The result is the drift's Repair, or the zero Repair with
// the first error.
func ReconcileRead[R any, D Drift](ctx context.Context, mu sync.Locker, read func() (R, error), diff func(R) (D, error), fix func(D) error) (Repair, error) {
	if err := ctx.Err(); err != nil {
		return Repair{}, err
	}
	r, err := read()
	if err != nil {
		return Repair{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	d, err := diff(r)
	if err != nil {
		return Repair{}, err
	}
	rep := d.Repair()
	if fix == nil {
		return rep, nil
	}
	if err := fix(d); err != nil {
		return Repair{}, err
	}
	return rep, nil
}

// BanKey names one ban in the firewall: a prefix in a jail.
type BanKey struct {
	Jail   string
	Prefix netip.Prefix
}

// ChangeLog lets a heal read the firewall outside the backend's batch lock
// and still tell which of what it read is stale. Every method is called
// with that lock held. Begin starts a read; while any read is open, the
// backend's committed Ban and Unban calls Note each prefix they changed
// and Setup calls Reset. End closes a read and says what changed since its
// Begin. Nothing is recorded while no read is open, so the log stays as
// small as the bans committed during one read. The zero value is ready.
type ChangeLog struct {
	seq     uint64            // bumped by every Note and Reset
	reset   uint64            // seq of the last Reset
	open    int               // reads begun and not ended
	touched map[BanKey]uint64 // seq of the last Note of each key
}

// Mark is where a read began in a ChangeLog.
type Mark struct{ seq uint64 }

// Changes is what a ChangeLog saw between a read's Begin and its End.
type Changes struct {
	// Reset is true when a Setup ran in between: the read may describe
	// sets and jails that are gone, and should be done again.
	Reset bool
	keys  map[BanKey]bool
}

// Touched reports whether a committed Ban or Unban changed key after the
// read began: what the read says of key is stale, and a heal leaves it be
// (banned since: it is there; unbanned since: it is no longer wanted).
func (c Changes) Touched(key BanKey) bool { return c.keys[key] }

// Len counts the keys touched.
func (c Changes) Len() int { return len(c.keys) }

// Begin opens a read.
func (l *ChangeLog) Begin() Mark {
	l.open++
	return Mark{seq: l.seq}
}

// Note records a committed change of key, if a read is open.
func (l *ChangeLog) Note(key BanKey) {
	if l.open == 0 {
		return
	}
	if l.touched == nil {
		l.touched = map[BanKey]uint64{}
	}
	l.seq++
	l.touched[key] = l.seq
}

// Reset records a Setup, if a read is open.
func (l *ChangeLog) Reset() {
	if l.open == 0 {
		return
	}
	l.seq++
	l.reset = l.seq
}

// End closes the read begun at m and returns what changed since. The log
// forgets everything once no read is open.
func (l *ChangeLog) End(m Mark) Changes {
	c := Changes{Reset: l.reset > m.seq}
	for k, s := range l.touched {
		if s > m.seq {
			if c.keys == nil {
				c.keys = map[BanKey]bool{}
			}
			c.keys[k] = true
		}
	}
	if l.open > 0 {
		l.open--
	}
	if l.open == 0 {
		l.touched = nil
	}
	return c
}
