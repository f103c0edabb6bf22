package server

import (
	"context"
	"sync"

	"warden/internal/ban"
	"warden/internal/firewall"
	"warden/internal/source"
	"warden/internal/store"
)

// jailsOnly hands a backend only the bans of the jails it was set up for:
// the ban manager gives every backend every ban, and jails whose actions
// all run through the shell have no rules in the native backend.
type jailsOnly struct {
	firewall.Backend
	jails map[string]bool
}

var _ firewall.Backend = jailsOnly{}

func (b jailsOnly) keep(bans []firewall.Ban) []firewall.Ban {
	out := bans[:0:0]
	for _, x := range bans {
		if b.jails[x.Jail] {
			out = append(out, x)
		}
	}
	return out
}

// Ban implements firewall.Backend.
func (b jailsOnly) Ban(ctx context.Context, bans []firewall.Ban) error {
	if bans = b.keep(bans); len(bans) == 0 {
		return nil
	}
	return b.Backend.Ban(ctx, bans)
}

// Unban implements firewall.Backend.
func (b jailsOnly) Unban(ctx context.Context, bans []firewall.Ban) error {
	if bans = b.keep(bans); len(bans) == 0 {
		return nil
	}
	return b.Backend.Unban(ctx, bans)
}

// positions keeps one jail's file positions in the store. A position is
// written by the ban manager's database writer (Manager.Checkpoint), after
// the bans of the lines before it: the source hands a position over only
// once the pipeline has handled those lines (source.Acks), and the writer
// keeps the order in which bans and positions were queued.
type positions struct {
	st   *store.Store
	jail string
	mgr  *ban.Manager
	// opened, when set, hears of every file whose start position the
	// source has looked up (it has then fixed where reading starts).
	opened *startWatch
}

var _ source.Positions = positions{}

func (p positions) Load(ctx context.Context, path string) (source.Position, bool, error) {
	pos, ok, err := p.st.LogPosition(ctx, p.jail, path)
	if p.opened != nil {
		p.opened.seen(path)
	}
	return source.Position(pos), ok, err
}

// startWatch tells when a file source has positioned itself in every file
// that existed when the server started, so that readiness is announced only
// once a line appended from then on is sure to be read ("tail" files start
// at their end as of that moment).
type startWatch struct {
	mu      sync.Mutex
	pending map[string]bool
	done    chan struct{}
}

func newStartWatch(paths []string) *startWatch {
	w := &startWatch{pending: map[string]bool{}, done: make(chan struct{})}
	for _, p := range paths {
		w.pending[p] = true
	}
	if len(w.pending) == 0 {
		close(w.done)
	}
	return w
}

func (w *startWatch) seen(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending[path] {
		delete(w.pending, path)
		if len(w.pending) == 0 {
			close(w.done)
		}
	}
}

func (p positions) Save(ctx context.Context, pos source.Position) error {
	return p.mgr.Checkpoint(ctx, "log "+p.jail+" "+pos.Path, func(ctx context.Context) error {
		return p.st.SetLogPosition(ctx, p.jail, store.Position(pos))
	})
}

// cursors keeps one jail's journal cursor in the store, written like
// positions' file positions.
type cursors struct {
	st   *store.Store
	jail string
	mgr  *ban.Manager
}

var _ source.Cursors = cursors{}

func (c cursors) Load(ctx context.Context) (string, bool, error) {
	return c.st.JournalCursor(ctx, c.jail)
}

func (c cursors) Save(ctx context.Context, cursor string) error {
	return c.mgr.Checkpoint(ctx, "journal "+c.jail, func(ctx context.Context) error {
		return c.st.SetJournalCursor(ctx, c.jail, cursor)
	})
}
