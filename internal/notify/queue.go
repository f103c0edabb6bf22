package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrQueueFull is what Submit reports when the queue has no room.
var ErrQueueFull = errors.New("mail queue full")

// Spool keeps messages that could not be delivered, for a later retry (the
// ban database's mail queue). It is optional.
type Spool interface {
	Put(ctx context.Context, from string, to []string, msg []byte, lastErr string) error
}

// Spooled is one message kept in a Spool.
type Spooled struct {
	ID       int64
	From     string
	To       []string
	Msg      []byte
	Attempts int
}

// Retrier is a Spool whose messages the mailer tries again, a few at a
// time, every SpoolEvery.
type Retrier interface {
	Spool
	Spooled(ctx context.Context, limit int) ([]Spooled, error)
	Delivered(ctx context.Context, id int64) error
	Failed(ctx context.Context, id int64, lastErr string) error
}

// Job makes one message when its turn comes, in the mailer's goroutine, so
// slow parts (whois, reading logs) never hold up banning.
type Job func(ctx context.Context) (*Message, error)

// MailerConfig configures a Mailer.
type MailerConfig struct {
	Deliver Deliverer // required
	Logger  *slog.Logger
	// Queue is the most jobs waiting (default 1000); more are dropped and
	// counted, never waited for.
	Queue int
	// Attempts is how often a message is tried (default 5), waiting
	// Backoff (default 30 s) before the second try, doubling up to
	// MaxBackoff (default 30 min).
	Attempts            int
	Backoff, MaxBackoff time.Duration
	// Grace bounds the delivery of what is left once Run is told to stop
	// (default 10 s); the rest goes to the Spool.
	Grace time.Duration
	// Spool keeps what could not be delivered (SetSpool may set it
	// later); a Retrier's messages are tried again every SpoolEvery
	// (default 5 min), SpoolBatch (default 20) at a time.
	Spool      Spool
	SpoolEvery time.Duration
	SpoolBatch int
	Now        func() time.Time
	// Digest, when set, is flushed by Run every DigestEvery and at stop.
	Digest      *Digest
	DigestEvery time.Duration
}

// Stats counts what a Mailer did.
type Stats struct {
	Queued    int64 // jobs waiting or being retried now
	Sent      int64
	Retried   int64 // failed attempts that were tried again
	Failed    int64 // messages given up (spooled or lost)
	Spooled   int64 // of Failed, kept in the Spool
	Dropped   int64 // jobs refused because the queue was full
	Resent    int64 // of Sent, messages taken back from the Spool
	LastError string
}

type pending struct {
	job     Job
	msg     []byte
	from    string
	to      []string
	attempt int
	due     time.Time
}

// Mailer delivers jobs one at a time from a bounded queue, with retries.
// Submit never blocks. Run is its only goroutine; Acquire/Release start and
// stop it on behalf of the actions that share it.
type Mailer struct {
	cfg   MailerConfig
	log   *slog.Logger
	jobs  chan *pending // owned by the Mailer, never closed
	spool atomic.Pointer[Spool]

	sent, retried, failed, spooled, dropped, waiting, resent atomic.Int64
	lastErr                                                  atomic.Value // string

	mu     sync.Mutex // guards users, cancel, done
	users  int
	cancel context.CancelFunc
	done   chan struct{}
}

// NewMailer returns a Mailer; nothing runs until Run or Acquire.
func NewMailer(cfg MailerConfig) *Mailer {
	if cfg.Queue <= 0 {
		cfg.Queue = 1000
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Minute
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SpoolEvery <= 0 {
		cfg.SpoolEvery = 5 * time.Minute
	}
	if cfg.SpoolBatch <= 0 {
		cfg.SpoolBatch = 20
	}
	m := &Mailer{cfg: cfg, log: cfg.Logger, jobs: make(chan *pending, cfg.Queue)}
	if cfg.Spool != nil {
		m.SetSpool(cfg.Spool)
	}
	return m
}

// SetSpool sets (or, with nil, clears) where undeliverable mail is kept;
// the server sets it once its database is open.
func (m *Mailer) SetSpool(sp Spool) {
	if sp == nil {
		m.spool.Store(nil)
		return
	}
	m.spool.Store(&sp)
}

// Spool is where undeliverable mail is kept, nil if nowhere.
func (m *Mailer) Spool() Spool {
	if p := m.spool.Load(); p != nil {
		return *p
	}
	return nil
}

// retrySpooled tries a batch of spooled messages once each.
func (m *Mailer) retrySpooled(ctx context.Context) {
	r, ok := m.Spool().(Retrier)
	if !ok {
		return
	}
	list, err := r.Spooled(ctx, m.cfg.SpoolBatch)
	if err != nil {
		m.log.Warn("mail spool", "err", err)
		return
	}
	for _, sp := range list {
		if ctx.Err() != nil {
			return
		}
		if err := m.cfg.Deliver.Deliver(ctx, sp.From, sp.To, sp.Msg); err != nil {
			m.setErr(err.Error())
			if ferr := r.Failed(ctx, sp.ID, err.Error()); ferr != nil {
				m.log.Warn("mail spool", "err", ferr)
			}
			return // the mail system is still unwell; next round
		}
		m.sent.Add(1)
		m.resent.Add(1)
		if derr := r.Delivered(ctx, sp.ID); derr != nil {
			m.log.Warn("mail spool", "err", derr)
		}
	}
}

// Digest is the mailer's digest, nil without digest mode.
func (m *Mailer) Digest() *Digest { return m.cfg.Digest }

// Submit queues a job without waiting; a full queue drops it, counts it and
// returns ErrQueueFull.
func (m *Mailer) Submit(j Job) error {
	select {
	case m.jobs <- &pending{job: j}:
		m.waiting.Add(1)
		return nil
	default:
		if n := m.dropped.Add(1); n == 1 || n%1000 == 0 {
			m.log.Warn("mail queue full, messages dropped", "dropped", n, "queue", m.cfg.Queue)
		}
		m.setErr(ErrQueueFull.Error())
		return ErrQueueFull
	}
}

// Stats returns the counters.
func (m *Mailer) Stats() Stats {
	s := Stats{Queued: m.waiting.Load(), Sent: m.sent.Load(), Retried: m.retried.Load(), Failed: m.failed.Load(),
		Spooled: m.spooled.Load(), Dropped: m.dropped.Load(), Resent: m.resent.Load()}
	s.LastError, _ = m.lastErr.Load().(string)
	return s
}

func (m *Mailer) setErr(s string) { m.lastErr.Store(s) }

// Acquire starts Run for a user (an action's Start) unless it runs already.
// Its goroutine lives until the last user's Release.
func (m *Mailer) Acquire(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users++
	if m.users > 1 {
		return
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	m.cancel, m.done = cancel, done
	go func() {
		defer close(done)
		_ = m.Run(rctx)
	}()
}

// Release ends a user's share; the last one stops Run, which delivers what
// is queued within the Grace period, and waits for it (or ctx).
func (m *Mailer) Release(ctx context.Context) error {
	m.mu.Lock()
	if m.users == 0 {
		m.mu.Unlock()
		return nil
	}
	m.users--
	if m.users > 0 {
		m.mu.Unlock()
		return nil
	}
	cancel, done := m.cancel, m.done
	m.mu.Unlock()
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mail queue: %w", ctx.Err())
	}
}

// Run delivers jobs until ctx ends, then flushes the digest, delivers what
// is still queued within Grace and spools the rest.
func (m *Mailer) Run(ctx context.Context) error {
	var retry []*pending // waiting for their due time, in no order
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var tick <-chan time.Time
	if m.cfg.Digest != nil && m.cfg.DigestEvery > 0 {
		t := time.NewTicker(m.cfg.DigestEvery)
		defer t.Stop()
		tick = t.C
	}
	// A stop request must not cut a delivery short (sendmail killed after
	// its MTA took the message would mean a duplicate): work in flight
	// gets Grace before it is cancelled.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(m.cfg.Grace, cancelWork) })
	defer stopAfter()
	spoolTick := time.NewTicker(m.cfg.SpoolEvery)
	defer spoolTick.Stop()
	for {
		if ctx.Err() != nil {
			return m.shutdown(retry)
		}
		next := time.Duration(-1)
		now := m.cfg.Now()
		keep := retry[:0]
		var due []*pending
		for _, p := range retry {
			if d := p.due.Sub(now); d <= 0 {
				due = append(due, p)
			} else {
				keep = append(keep, p)
				if next < 0 || d < next {
					next = d
				}
			}
		}
		retry = keep
		for _, p := range due {
			if m.attempt(work, p) {
				retry = append(retry, p)
			}
		}
		if len(due) > 0 {
			continue
		}
		if next < 0 {
			next = time.Hour
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return m.shutdown(retry)
		case p := <-m.jobs:
			if m.attempt(work, p) {
				retry = append(retry, p)
			}
		case <-tick:
			if p := m.flushDigest(work); p != nil {
				retry = append(retry, p)
			}
		case <-spoolTick.C:
			m.retrySpooled(work)
		case <-timer.C:
		}
	}
}

// attempt composes (first time) and delivers p once; it reports whether p
// should be tried again later, having set p.due.
func (m *Mailer) attempt(ctx context.Context, p *pending) (again bool) {
	if p.job != nil {
		msg, err := p.job(ctx)
		p.job = nil
		if err == nil {
			p.from, p.to = msg.From, msg.To
			p.msg, err = msg.Render()
		}
		if err != nil {
			m.waiting.Add(-1)
			m.failed.Add(1)
			m.setErr(err.Error())
			m.log.Warn("mail not composed", "err", err)
			return false
		}
	}
	p.attempt++
	err := m.cfg.Deliver.Deliver(ctx, p.from, p.to, p.msg)
	if err == nil {
		m.waiting.Add(-1)
		m.sent.Add(1)
		return false
	}
	m.setErr(err.Error())
	if ctx.Err() != nil {
		return true // stopping: shutdown decides
	}
	if p.attempt < m.cfg.Attempts {
		m.retried.Add(1)
		wait := m.cfg.Backoff << (p.attempt - 1)
		if wait > m.cfg.MaxBackoff || wait <= 0 {
			wait = m.cfg.MaxBackoff
		}
		p.due = m.cfg.Now().Add(wait)
		m.log.Info("mail delivery failed, will retry", "to", p.to, "attempt", p.attempt, "in", wait, "err", err)
		return true
	}
	m.giveUp(ctx, p, err)
	return false
}

func (m *Mailer) giveUp(ctx context.Context, p *pending, err error) {
	m.waiting.Add(-1)
	m.failed.Add(1)
	spool := m.Spool()
	if spool != nil && p.job != nil {
		// Never composed: compose it now with the (expired) context, so
		// slow parts give up at once, and keep what comes out.
		if msg, cerr := p.job(ctx); cerr == nil {
			p.from, p.to = msg.From, msg.To
			p.msg, _ = msg.Render()
		}
		p.job = nil
	}
	if spool != nil && p.msg != nil {
		serr := spool.Put(context.WithoutCancel(ctx), p.from, p.to, p.msg, err.Error())
		if serr == nil {
			m.spooled.Add(1)
			m.log.Warn("mail not delivered, kept for later", "to", p.to, "attempts", p.attempt, "err", err)
			return
		}
		m.log.Error("mail spool", "err", serr)
	}
	m.log.Error("mail not delivered, dropped", "to", p.to, "attempts", p.attempt, "err", err)
}

// shutdown tries every remaining message once more, then the digest, within
// Grace; what is left is spooled (or dropped if never composed).
func (m *Mailer) shutdown(retry []*pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Grace)
	defer cancel()
	for more := true; more; {
		select {
		case p := <-m.jobs:
			retry = append(retry, p)
		default:
			more = false
		}
	}
	last := func(p *pending) {
		if ctx.Err() != nil {
			m.giveUp(ctx, p, fmt.Errorf("not delivered before shutdown: %w", ctx.Err()))
			return
		}
		p.attempt = max(p.attempt, m.cfg.Attempts-1) // one last try
		if m.attempt(ctx, p) {
			m.giveUp(ctx, p, fmt.Errorf("not delivered before shutdown: %w", ctx.Err()))
		}
	}
	for _, p := range retry {
		last(p)
	}
	if p := m.flushDigest(ctx); p != nil {
		last(p)
	}
	return nil
}

// flushDigest sends the digest's message, if it holds any ban; a message
// to try again later is returned.
func (m *Mailer) flushDigest(ctx context.Context) *pending {
	d := m.cfg.Digest
	if d == nil {
		return nil
	}
	msg := d.Flush(ctx, m.cfg.Now())
	if msg == nil {
		return nil
	}
	p := &pending{job: func(context.Context) (*Message, error) { return msg, nil }}
	m.waiting.Add(1)
	if m.attempt(ctx, p) {
		return p
	}
	return nil
}
