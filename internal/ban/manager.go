package ban

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"

	"warden/internal/firewall"
	"warden/internal/jail"
	"warden/internal/store"
)

// Defaults for Config fields left zero.
const (
	DefaultQueueSize       = 1 << 16
	DefaultBatchMax        = 1 << 14
	DefaultWorkers         = 4
	DefaultShutdownTimeout = 10 * time.Second
)

// Errors the manager reports, matched with errors.Is.
var (
	ErrUnknownJail = errors.New("ban: unknown jail")
	ErrNotBanned   = errors.New("ban: not banned")
	ErrBadTarget   = errors.New("ban: ticket has no usable address")
	ErrStopped     = errors.New("ban: manager not running")
)

// Store is what the manager needs of the ban database; *store.Store
// implements it.
type Store interface {
	AddBans(ctx context.Context, bans []store.Ban) error
	RemoveBans(ctx context.Context, jail string, prefixes []netip.Prefix) (int, error)
	ForgetHistory(ctx context.Context, jail string, prefixes []netip.Prefix) (int, error)
	EachActiveBan(ctx context.Context, now time.Time, withMatches func(jail string) bool, fn func(store.Ban) error) error
	BanHistory(ctx context.Context, prefix netip.Prefix, jail string) (store.History, error)
	BanEvidence(ctx context.Context, prefix netip.Prefix, jail string) (store.Evidence, error)
}

var _ Store = (*store.Store)(nil)

// JailConfig is one jail as the manager sees it.
type JailConfig struct {
	Name string
	// BanTime holds bantime and the bantime.* options.
	BanTime jail.BanTimeConfig
	// Actions are the jail's shell actions, run in this order. The manager
	// starts them in Run and stops them when Run ends.
	Actions []Action
}

// Config configures a Manager.
type Config struct {
	Jails []JailConfig
	// Backends receive every ban and unban; none is allowed (actions only).
	// Their Setup is the caller's business, before Run.
	Backends []firewall.Backend
	Store    Store // required
	Clock    Clock // nil: RealClock
	Logger   *slog.Logger
	// QueueSize is the capacity of the request queue; Submit blocks when
	// it is full.
	QueueSize int
	// BatchMax caps the requests handled (and bans sent to a backend) in
	// one batch.
	BatchMax int
	// Linger is how long, in real time, every batch waits for more
	// requests once the queue is empty; zero (the default): not at all.
	// Measured here, a linger of 500µs for every batch cost over a
	// millisecond of latency per ban (timer granularity) and saved no
	// calls; a batch that found a flood queued waits floodLinger anyway.
	Linger time.Duration
	// Workers is the number of action workers.
	Workers int
	// HealInterval, when positive, calls Heal on every backend that
	// implements firewall.Healer that often (by Clock), and as often runs
	// the check of every jail's actions that have one (actioncheck),
	// rebanning the jail's bans where a check repaired an action. A
	// firewall.Watcher's change does both at once.
	HealInterval time.Duration
	// Watchers tell of firewall changes beside the Backends that are
	// firewall.Watchers, such as firewalld reloading under shell actions
	// that use firewall-cmd; each change heals and checks at once.
	Watchers []firewall.Watcher
	// ShutdownTimeout bounds how long queued actions may still run after
	// Run's context ends.
	ShutdownTimeout time.Duration
	// Settled, when set, is called on Run's goroutine after a restore of
	// SettleBans bans or more, and once a second has passed without a ban
	// after a burst of as many: the moments a flood's or a restore's
	// garbage is all there is to give back. The server returns it to the
	// operating system there (debug.FreeOSMemory).
	Settled func()
}

// SettleBans is the least burst (or restore) after which Config.Settled is
// called.
const SettleBans = 10_000

// Result is the outcome of one ban request.
type Result struct {
	Banned    bool          // newly banned
	Already   bool          // was banned already in that jail
	Prolonged bool          // already banned, and its end moved later
	Expired   bool          // the ban would have ended already: ignored
	BanTime   time.Duration // the ban's duration (negative: for ever)
	End       time.Time     // zero: for ever
	Count     int           // times banned in the jail, this one included
	Err       error         // firewall or store trouble; the ban is kept
}

// Stats are the counters of one jail, as `status` shows them.
type Stats struct {
	Banned      int   // currently banned
	TotalBanned int64 // bans since start, restored ones included
}

// Counters are the manager's own counters.
type Counters struct {
	Batches        int64 // batches handled
	FirewallBans   int64 // Backend.Ban calls
	FirewallUnbans int64 // Backend.Unban calls
	FirewallErrors int64
	StoreErrors    int64
	Expired        int64 // bans lifted at their end
	Healed         int64 // Heal calls that put something back
	HealedBans     int64 // ban elements put back by Heal
	HealedObjects  int64 // tables, chains, sets and rules put back by Heal
	ActionsPending int
	ActionsDone    int64
	ActionsFailed  int64
}

type reqKind int

const (
	reqBan reqKind = iota
	reqUnban
	reqSync
	reqMark
)

type request struct {
	kind     reqKind
	jail     string
	ticket   jail.Ticket
	tickets  []jail.Ticket  // reqBan of SubmitAll: several tickets, ticket unused
	prefixes []netip.Prefix // reqUnban; nil with all
	all      bool
	mark     *mark      // reqMark
	done     chan reply // nil: nobody waits
}

type reply struct {
	res Result
	n   int
	err error
}

type jailState struct {
	cfg   JailConfig
	idx   uint16       // the jail in the ban table
	log   *slog.Logger // the manager's, with the jail's name formatted once
	total int64
}

// Manager holds every active ban. Create it with New and run it with Run.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	clock Clock
	reqs  chan *request // owned by Manager, never closed
	pool  *pool
	w     *writer
	hs    healState // loop goroutine only
	// inBatch is banBatch's index of a batch's decisions, empty between
	// batches; loop goroutine only.
	inBatch map[jailPrefix]*pendingBan
	// banReqs is handle's list of a batch's tickets, empty between
	// batches; loop goroutine only.
	banReqs []banReq
	// floodLinger is the constant floodLinger; a test lengthens it to
	// tell a wait from scheduling delays.
	floodLinger time.Duration

	running chan struct{} // closed when Run has restored and serves requests
	stopped chan struct{} // closed when Run has returned

	mu    sync.Mutex // guards the fields below
	jails map[string]*jailState
	bans  *banTable
	ctr   Counters
}

// New checks cfg and builds a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("ban: no store")
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = DefaultBatchMax
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	m := &Manager{
		cfg:     cfg,
		log:     cfg.Logger,
		clock:   cfg.Clock,
		reqs:    make(chan *request, cfg.QueueSize),
		running: make(chan struct{}),
		stopped: make(chan struct{}),
		jails:   map[string]*jailState{},

		floodLinger: floodLinger,
	}
	acts := map[string][]Action{}
	if len(cfg.Jails) > math.MaxUint16 {
		return nil, fmt.Errorf("ban: %d jails; at most %d", len(cfg.Jails), math.MaxUint16)
	}
	names := make([]string, len(cfg.Jails))
	for i, j := range cfg.Jails {
		if err := firewall.ValidateJailName(j.Name); err != nil {
			return nil, fmt.Errorf("ban: jail %q: %w", j.Name, err)
		}
		if _, dup := m.jails[j.Name]; dup {
			return nil, fmt.Errorf("ban: jail %q given twice", j.Name)
		}
		m.jails[j.Name] = &jailState{cfg: j, idx: uint16(i), log: m.log.With("jail", j.Name)}
		names[i] = j.Name
		acts[j.Name] = j.Actions
	}
	m.bans = newBanTable(names)
	m.pool = newPool(m.log, acts, m.rebanAll)
	m.w = newWriter(cfg.Store, names, m.log, m.countStoreError)
	m.hs.done = make(chan []healReport, 1)
	return m, nil
}

// Submit queues a ban request without waiting for it; it blocks only while
// the queue is full. The jail pipeline uses it.
func (m *Manager) Submit(ctx context.Context, jailName string, t jail.Ticket) error {
	return m.send(ctx, &request{kind: reqBan, jail: jailName, ticket: t})
}

// SubmitAll queues ban requests for several tickets of one jail as one
// request, as Submit does for each of them in turn: a flood's tickets then
// cost the queue one hand-over per few hundred. The Manager keeps ts; the
// caller must not change it afterwards.
func (m *Manager) SubmitAll(ctx context.Context, jailName string, ts []jail.Ticket) error {
	switch len(ts) {
	case 0:
		return nil
	case 1:
		return m.Submit(ctx, jailName, ts[0])
	}
	return m.send(ctx, &request{kind: reqBan, jail: jailName, tickets: ts})
}

// bans is how many bans r asks for (each counts towards a batch's
// BatchMax and floodBatch).
func (r *request) bans() int { return max(1, len(r.tickets)) }

// Checkpoint queues fn to run on the database writer once every request
// queued before it has been handled and its database changes written; it
// does not wait. Of checkpoints with one key that wait together, only the
// last runs. The jail pipeline saves its log positions this way, so that a
// saved position never runs ahead of the bans its lines led to.
func (m *Manager) Checkpoint(ctx context.Context, key string, fn func(context.Context) error) error {
	return m.send(ctx, &request{kind: reqMark, mark: &mark{key: key, fn: fn}})
}

// Ban bans t in jail and returns once the firewall has it (or failed to).
func (m *Manager) Ban(ctx context.Context, jailName string, t jail.Ticket) (Result, error) {
	r := &request{kind: reqBan, jail: jailName, ticket: t, done: make(chan reply, 1)}
	rep, err := m.call(ctx, r)
	if err != nil {
		return Result{}, err
	}
	return rep.res, rep.err
}

// BanIP is the operator's `set JAIL banip`: a ban of addr (or network) now,
// with one failure.
func (m *Manager) BanIP(ctx context.Context, jailName string, p netip.Prefix) (Result, error) {
	t := jail.Ticket{ID: p.String(), Prefix: p, Time: m.clock.Now(), Failures: 1}
	if p.IsSingleIP() {
		t.Addr = p.Addr()
		t.ID = p.Addr().String()
	}
	return m.Ban(ctx, jailName, t)
}

// Unban lifts the bans of prefixes in jail, or in every jail when jail is
// "", and forgets their history. It returns how many bans were lifted and
// ErrNotBanned when none of the prefixes was banned.
func (m *Manager) Unban(ctx context.Context, jailName string, prefixes []netip.Prefix) (int, error) {
	rep, err := m.call(ctx, &request{kind: reqUnban, jail: jailName, prefixes: prefixes, done: make(chan reply, 1)})
	if err != nil {
		return 0, err
	}
	return rep.n, rep.err
}

// UnbanAll lifts every ban of jail, or of every jail when jail is "" (the
// client's `unban --all`). History is kept.
func (m *Manager) UnbanAll(ctx context.Context, jailName string) (int, error) {
	rep, err := m.call(ctx, &request{kind: reqUnban, jail: jailName, all: true, done: make(chan reply, 1)})
	if err != nil {
		return 0, err
	}
	return rep.n, rep.err
}

// Sync returns once every request queued before it has been handled, and
// bans due by the clock have been lifted.
func (m *Manager) Sync(ctx context.Context) error {
	_, err := m.call(ctx, &request{kind: reqSync, done: make(chan reply, 1)})
	return err
}

// Ready is closed once Run has restored the stored bans and serves
// requests.
func (m *Manager) Ready() <-chan struct{} { return m.running }

// WaitActions returns when no action job is queued or running.
func (m *Manager) WaitActions(ctx context.Context) error { return m.pool.wait(ctx, 0) }

// Banned lists the prefixes banned in jail, oldest ban first (fail2ban's
// order in `status`).
func (m *Manager) Banned(jailName string) ([]netip.Prefix, error) {
	m.mu.Lock()
	js, ok := m.jails[jailName]
	if !ok {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrUnknownJail, jailName)
	}
	type started struct {
		start  int64
		prefix netip.Prefix
	}
	es := make([]started, 0, m.bans.count(js.idx))
	m.bans.each(js.idx, false, func(e entry) { es = append(es, started{e.start, e.prefix}) })
	m.mu.Unlock()
	slices.SortFunc(es, func(a, b started) int {
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		return a.prefix.Addr().Compare(b.prefix.Addr())
	})
	out := make([]netip.Prefix, len(es))
	for i, e := range es {
		out[i] = e.prefix
	}
	return out, nil
}

// BannedIn lists the jails, by name, in which p is banned (the client's
// `banned IP`).
func (m *Manager) BannedIn(p netip.Prefix) []string {
	if c, err := firewall.ValidatePrefix(p); err == nil {
		p = c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name, js := range m.jails {
		if m.bans.has(js.idx, p) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// SetBanTime replaces jail's bantime and bantime.* options (the client's
// `set JAIL bantime ...`). Bans in force keep their time; later ones use
// the new options.
func (m *Manager) SetBanTime(jailName string, cfg jail.BanTimeConfig) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	js, ok := m.jails[jailName]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownJail, jailName)
	}
	js.cfg.BanTime = cfg
	return nil
}

// BanTime returns jail's bantime options.
func (m *Manager) BanTime(jailName string) (jail.BanTimeConfig, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	js, ok := m.jails[jailName]
	if !ok {
		return jail.BanTimeConfig{}, fmt.Errorf("%w: %s", ErrUnknownJail, jailName)
	}
	return js.cfg.BanTime, nil
}

// IsBanned reports whether p is banned in jail.
func (m *Manager) IsBanned(jailName string, p netip.Prefix) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	js, ok := m.jails[jailName]
	return ok && m.bans.has(js.idx, p)
}

// Stats returns the counters of jail.
func (m *Manager) Stats(jailName string) (Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	js, ok := m.jails[jailName]
	if !ok {
		return Stats{}, fmt.Errorf("%w: %s", ErrUnknownJail, jailName)
	}
	return Stats{Banned: m.bans.count(js.idx), TotalBanned: js.total}, nil
}

// Counters returns the manager's counters.
func (m *Manager) Counters() Counters {
	pending, done, failed := m.pool.counts()
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.ctr
	c.ActionsPending, c.ActionsDone, c.ActionsFailed = pending, done, failed
	return c
}

func (m *Manager) send(ctx context.Context, r *request) error {
	select {
	case <-m.stopped:
		return ErrStopped
	default:
	}
	select {
	case m.reqs <- r:
		return nil
	case <-m.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) call(ctx context.Context, r *request) (reply, error) {
	if err := m.send(ctx, r); err != nil {
		return reply{}, err
	}
	select {
	case rep := <-r.done:
		return rep, nil
	case <-m.stopped:
		return reply{}, ErrStopped
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

// Run restores the stored bans, starts the actions and serves requests until
// ctx ends; see the package comment for the shutdown order. It returns an
// error only when the restore cannot read the store. Run may be called only
// once; afterwards requests fail with ErrStopped.
func (m *Manager) Run(ctx context.Context) error {
	defer close(m.stopped)
	actx, cancelActions := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelActions()
	var wg sync.WaitGroup
	for range m.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.pool.work(actx)
		}()
	}
	wctx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrites()
	written := make(chan struct{})
	go func() {
		defer close(written)
		m.w.run(wctx)
	}()
	defer func() {
		m.w.close()
		m.pool.close()
		stopped := make(chan struct{})
		go func() { wg.Wait(); close(stopped) }()
		t := time.NewTimer(m.cfg.ShutdownTimeout)
		select {
		case <-written:
		case <-t.C:
			m.log.Error("database writes still pending at shutdown; cancelling them")
			cancelWrites()
			<-written
		}
		select {
		case <-stopped:
		case <-t.C:
			m.log.Warn("action jobs still running at shutdown; cancelling them")
			cancelActions()
			<-stopped
		}
		t.Stop()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.ShutdownTimeout)
		defer cancel()
		for _, js := range m.jails {
			for _, a := range js.cfg.Actions {
				if err := a.Stop(sctx); err != nil {
					m.log.Error("action stop failed", "jail", js.cfg.Name, "action", a.Name(), "err", err)
				}
			}
		}
	}()

	for name := range m.jails {
		m.pool.add(name, job{op: opStart})
	}
	if err := m.restore(ctx); err != nil {
		return err
	}
	// The heal schedule starts before Ready: time a caller moves on
	// after Ready counts towards the first round.
	start := m.clock.Now()
	close(m.running)
	return m.loop(ctx, start)
}

// loop is Run's request loop; the first heal round is due HealInterval
// after start.
func (m *Manager) loop(ctx context.Context, start time.Time) error {
	var (
		timer    Timer
		armed    time.Time
		nextHeal time.Time
		healDue  time.Time // when a put-off round was first due
	)
	if m.cfg.HealInterval > 0 {
		nextHeal = start.Add(m.cfg.HealInterval)
	}
	batch := make([]*request, 0, 64)
	// changed fires when a backend's firewall was reloaded under it
	// (firewall.Watcher); healSoon keeps that until no heal round runs.
	changed, healSoon := m.watch(ctx), false
	for {
		// Arm the timer for the earliest of the next expiry, the next heal
		// and the end of a burst.
		due := nextHeal
		if m.cfg.Settled != nil && m.hs.burst >= SettleBans {
			if q := m.hs.lastBans.Add(healQuiet); due.IsZero() || q.Before(due) {
				due = q
			}
		}
		m.mu.Lock()
		if e, ok := m.bans.nextEnd(); ok && (due.IsZero() || e.Before(due)) {
			due = e
		}
		m.mu.Unlock()
		if !due.Equal(armed) || timer == nil && !due.IsZero() {
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			armed = due
			if !due.IsZero() {
				timer = m.clock.NewTimer(due.Sub(m.clock.Now()))
			}
		}
		var tc <-chan time.Time
		if timer != nil {
			tc = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			m.drain(ctx, batch[:0])
			m.hs.wg.Wait() // the backends are closed after Run returns
			return nil
		case reps := <-m.hs.done:
			m.finishHeal(ctx, reps)
		case <-tc:
			timer, armed = nil, time.Time{}
		case r := <-m.reqs:
			var n int
			batch, n = m.gather(ctx, append(batch[:0], r), r.bans())
			if ctx.Err() != nil {
				// Run ended while the batch was gathered: it is served
				// with the drain's context, as the rest of the queue.
				if timer != nil {
					timer.Stop()
				}
				m.drain(ctx, batch)
				m.hs.wg.Wait()
				return nil
			}
			if n >= floodBatch {
				m.hs.lastFlood = m.clock.Now()
			}
		case <-changed:
			healSoon = true
		}
		now := m.clock.Now()
		m.expire(ctx, now)
		if m.hs.burst > 0 && !now.Before(m.hs.lastBans.Add(healQuiet)) {
			// A burst is over (a smaller one is just forgotten).
			if m.hs.burst >= SettleBans && m.cfg.Settled != nil {
				m.cfg.Settled()
			}
			m.hs.burst = 0
		}
		if !nextHeal.IsZero() && !now.Before(nextHeal) {
			if healDue.IsZero() {
				healDue = nextHeal
			}
			if w := healWait(now, healDue, m.hs.lastFlood); w > 0 && !m.healOwed() {
				nextHeal = now.Add(w)
			} else {
				m.startHeal(ctx)
				m.checkActions(false)
				nextHeal, healDue = now.Add(m.healEvery()), time.Time{}
			}
		}
		if healSoon && !m.hs.active {
			m.log.Info("firewall changed under a backend; healing now")
			m.startHeal(ctx)
			m.checkActions(true)
			healSoon = false
		}
		if len(batch) > 0 {
			m.handle(ctx, batch)
			clear(batch)
			batch = batch[:0]
		}
	}
}

// drain serves batch and the requests still queued when Run's context
// ended (the last bans and checkpoints of the jails, which stop before the
// manager), with a context of its own bounded by ShutdownTimeout.
func (m *Manager) drain(ctx context.Context, batch []*request) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.ShutdownTimeout)
	defer cancel()
	for {
		n := 0
		for _, r := range batch {
			n += r.bans()
		}
		batch, _ = m.take(batch, n)
		if len(batch) == 0 || dctx.Err() != nil {
			return
		}
		m.handle(dctx, batch)
		clear(batch)
		batch = batch[:0]
	}
}

// A batch that found floodBatch requests or more queued is taken as a
// flood's, and waits up to floodLinger for more: a flood of 100,000
// addresses otherwise reaches the loop a few dozen bans at a time (3,600
// firewall commits and as many database transactions), and a commit costs
// more than its elements. A lone ban never waits.
const (
	floodBatch  = 16
	floodLinger = 20 * time.Millisecond
)

// gather adds queued requests to batch, whose n bans it counts on, until
// the batch holds BatchMax bans or more, lingering once for late ones when
// the queue runs dry (Config.Linger, or floodLinger when the batch is a
// flood's). The linger ends early when ctx does. It returns the batch and
// its bans.
func (m *Manager) gather(ctx context.Context, batch []*request, n int) ([]*request, int) {
	batch, n = m.take(batch, n)
	linger := m.cfg.Linger
	if n >= floodBatch {
		linger = max(linger, m.floodLinger)
	}
	if linger <= 0 || n >= m.cfg.BatchMax {
		return batch, n
	}
	t := time.NewTimer(linger)
	defer t.Stop()
	for n < m.cfg.BatchMax {
		select {
		case r := <-m.reqs:
			batch, n = m.take(append(batch, r), n+r.bans())
		case <-t.C:
			return batch, n
		case <-ctx.Done():
			return batch, n
		}
	}
	return batch, n
}

// take adds the requests queued now to batch, whose n bans it counts on,
// until it holds BatchMax bans or more; it returns the batch and its bans.
func (m *Manager) take(batch []*request, n int) ([]*request, int) {
	for n < m.cfg.BatchMax {
		select {
		case r := <-m.reqs:
			batch = append(batch, r)
			n += r.bans()
		default:
			return batch, n
		}
	}
	return batch, n
}
