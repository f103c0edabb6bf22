package server

import (
	"context"
	"sync"
	"time"

	"warden/internal/ban"
	"warden/internal/firewall"
	"warden/internal/firewall/nftables"
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

// keep returns the bans of b's jails. When all of them belong, which is
// the usual case, bans itself is returned: nothing is copied.
func (b jailsOnly) keep(bans []firewall.Ban) []firewall.Ban {
	for i, x := range bans {
		if b.jails[x.Jail] {
			continue
		}
		// A copy from here on: the caller's slice is never written.
		out := append(make([]firewall.Ban, 0, len(bans)-1), bans[:i]...)
		for _, y := range bans[i+1:] {
			if b.jails[y.Jail] {
				out = append(out, y)
			}
		}
		return out
	}
	return bans
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

// generationer is a backend that can tell whether its ruleset changed
// (nftables' generation counter).
type generationer interface {
	Generation() (uint32, error)
}

// genReader reads the generation on a socket it keeps until Close
// (nftables.GenerationReader).
type genReader interface {
	generationer
	Close() error
}

// onceEach adapts a generationer that holds nothing open.
type onceEach struct{ generationer }

func (onceEach) Close() error { return nil }

// newGenReader returns b's generation reader, if b has generations.
func newGenReader(b firewall.Backend) genReader {
	switch g := b.(type) {
	case interface {
		NewGenerationReader() *nftables.GenerationReader
	}:
		return g.NewGenerationReader()
	case generationer:
		return onceEach{g}
	}
	return nil
}

// fullHealEvery bounds how long heal rounds may be spared: a complete
// round runs at least this often whatever the generation says.
const fullHealEvery = 10 * time.Minute

// unchangedHeal spares a backend's heal round when nothing but our own
// bans and unbans has committed to the ruleset since the last round that
// found nothing missing: the kernel then holds what that round saw plus
// what we changed since. (Elements the kernel expires itself are bans
// that have expired here too.) Our Ban and Unban read the generation
// before and after their commit and carry a verified generation forward
// only when it was current before; a failed call, a round that mended or
// failed, or a generation moved by someone else leads to a complete
// round. Our commits made while a round reads the ruleset are chained: each
// must find the generation the one before it (or the round's start) left,
// and the round verifies its generation only if the chain reaches the
// generation read after it; so a round run during a flood of our own bans
// still verifies, and the next one is spared. One gap remains: a commit by
// another process in the microseconds between ours and the read after it
// goes unseen until the next complete round, which runs at least every
// fullHealEvery.
type unchangedHeal struct {
	healingJailsOnly
	gen genReader

	// mu is held across each Ban and Unban, so reads and commits pair
	// up, and around (not during) a Heal's round.
	mu sync.Mutex
	// open is set while gen's socket is tied to a context: it is closed
	// when that context ends (the generation's, for the ban manager).
	open bool
	ok   bool // last is a generation whose ruleset is known complete
	last uint32
	at   time.Time // when the last complete round ran
	// While a round runs (round set), chain is the generation our last
	// commit left, starting at the round's; chained is cleared when a
	// commit found another generation before it, or failed.
	round, chained bool
	chain          uint32
}

var _ firewall.Healer = (*unchangedHeal)(nil)

// Ban implements firewall.Backend.
func (b *unchangedHeal) Ban(ctx context.Context, bans []firewall.Ban) error {
	if bans = b.keep(bans); len(bans) == 0 {
		return nil
	}
	return b.change(ctx, func() error { return b.Backend.Ban(ctx, bans) })
}

// Unban implements firewall.Backend.
func (b *unchangedHeal) Unban(ctx context.Context, bans []firewall.Ban) error {
	if bans = b.keep(bans); len(bans) == 0 {
		return nil
	}
	return b.change(ctx, func() error { return b.Backend.Unban(ctx, bans) })
}

// tie arranges for gen's socket to be closed when ctx ends. The caller
// holds b.mu.
func (b *unchangedHeal) tie(ctx context.Context) {
	if b.open {
		return
	}
	b.open = true
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		_ = b.gen.Close()
		b.open = false
	})
}

// change runs one of our commits, keeping the verified generation.
func (b *unchangedHeal) change(ctx context.Context, commit func() error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ok && b.round && b.chained {
		return b.chainCommit(commit)
	}
	if !b.ok {
		return commit()
	}
	b.tie(ctx)
	var err error
	b.ok, b.last, err = b.commitFrom(b.last, commit)
	return err
}

// chainCommit runs one of our commits while a round reads the ruleset,
// extending the chain when the generation before it is the chain's end.
// The caller holds b.mu.
func (b *unchangedHeal) chainCommit(commit func() error) error {
	var err error
	b.chained, b.chain, err = b.commitFrom(b.chain, commit)
	return err
}

// commitFrom runs commit and reports whether the ruleset went from
// generation from to gen by that commit alone: the generation read just
// before it was from, the commit succeeded and the one after it could be
// read. When ok is false, gen means nothing. err is commit's.
func (b *unchangedHeal) commitFrom(from uint32, commit func() error) (ok bool, gen uint32, err error) {
	before, gerr := b.gen.Generation()
	if gerr != nil || before != from {
		return false, 0, commit()
	}
	if err := commit(); err != nil {
		return false, 0, err
	}
	after, gerr := b.gen.Generation()
	return gerr == nil, after, nil
}

// truster is a backend wrapper that can be told the ruleset is complete
// as it stands.
type truster interface{ trust() }

var _ truster = (*unchangedHeal)(nil)

// trust takes the ruleset at its current generation as complete: the
// caller has just set the backend up from nothing (no table before its
// Setup), so it holds exactly what Setup made. Our commits from here on
// carry the generation as usual; the first heal round, which at 100,000
// restored bans reads them all back (about a second of CPU and 80 MB), is
// spared unless someone else commits. A commit by another process between
// Setup's and this read is the gap the type's comment names.
func (b *unchangedHeal) trust() {
	b.mu.Lock()
	defer b.mu.Unlock()
	g, err := b.gen.Generation()
	b.ok, b.last, b.at = err == nil, g, time.Now()
}

var _ ban.HealNeeder = (*unchangedHeal)(nil)

// HealNeeded implements ban.HealNeeder: false while Heal would spare the
// round, so the ban manager does not build the list of wanted bans.
func (b *unchangedHeal) HealNeeded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Not open: the context the socket was tied to has ended; Heal ties
	// it again.
	if !b.ok || !b.open || time.Since(b.at) >= fullHealEvery {
		return true
	}
	g, err := b.gen.Generation()
	return err != nil || g != b.last
}

// Heal implements firewall.Healer.
func (b *unchangedHeal) Heal(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	want = b.keep(want)
	b.mu.Lock()
	b.tie(ctx)
	g, err := b.gen.Generation()
	now := time.Now()
	if err == nil && b.ok && g == b.last && now.Sub(b.at) < fullHealEvery {
		b.mu.Unlock()
		return firewall.Repair{}, nil
	}
	b.ok = false
	b.round, b.chained, b.chain = true, err == nil, g
	b.mu.Unlock()
	// The round itself runs without b.mu: it reads the sets for about a
	// second at 100,000 bans, and Ban must not wait for that. Our commits
	// meanwhile extend the chain (chainCommit): the round's read leaves
	// them alone, and they are in the kernel once they returned.
	rep, herr := b.h.Heal(ctx, want)
	b.mu.Lock()
	defer b.mu.Unlock()
	chained, end := b.chained, b.chain
	b.round, b.chained = false, false
	if herr != nil || err != nil || rep != (firewall.Repair{}) || !chained {
		return rep, herr
	}
	if g2, err := b.gen.Generation(); err == nil && g2 == end {
		b.ok, b.last, b.at = true, g2, now
	}
	return rep, nil
}
