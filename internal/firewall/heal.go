package firewall

import (
	"context"
	"sync"
)

// Drift is what a backend's comparison of the firewall with its jails and
// wanted bans found missing.
type Drift interface {
	// Repair counts what is missing.
	Repair() Repair
}

// Reconcile is the bookkeeping every Healer shares for Check and Heal: it
// fails at once on a done ctx, holds mu (the backend's batch lock) for the
// whole run so no Ban or Setup slips in between measuring and mending,
// measures with diff and, for a Heal (fix not nil), hands the drift to fix.
// fix decides for itself whether a drift that counts nothing needs work (a
// rule out of order counts as nothing missing, yet may be rewritten). The
// result is the drift's Repair, or the zero Repair with the first error.
func Reconcile[D Drift](ctx context.Context, mu sync.Locker, diff func() (D, error), fix func(D) error) (Repair, error) {
	if err := ctx.Err(); err != nil {
		return Repair{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	d, err := diff()
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
