// Package webhook delivers ban, start and stop events to HTTP endpoints:
// a generic signed JSON POST and ready formats for Slack, Discord, Matrix
// and ntfy, one message per event or one digest per period.
//
// Send never blocks: each target has a bounded queue, and an event that
// does not fit is dropped and counted. Run delivers, with retries and
// exponential backoff; a target sends one message at a time, so while it
// retries its new events wait in the queue (or, in digest mode, in the
// next digest). The URL, method and headers of a request come from
// the configuration only; events (log lines, whois text) reach the body
// alone, encoded for its format.
//
// Targets are [webhook:NAME] sections of fail2ban.conf or .local (see
// Target). Bodies:
//
//   - json: {"version": 1, "digest": false, "omitted": 0, "text": "warden: banned ...",
//     "events": [{"kind": "ban"|"start"|"stop", "jail": "sshd", "addr": "192.0.2.1",
//     "failures": 5, "bantime_seconds": 600, "time": "2026-01-02T03:04:05Z",
//     "matches": ["log line", ...], "whois": {"netname", "country", "org", "as",
//     "abuse", "cidr", "server"}}]}; bantime_seconds is -1 for a permanent ban;
//     start and stop events carry kind, jail and time only; a digest has
//     "digest": true, every event gathered, and "omitted" counting those
//     beyond Options.DigestMax. Only this format carries the log lines.
//   - slack: {"text": ...} with &, < and > escaped.
//   - discord: {"content": ..., "allowed_mentions": {"parse": []}}.
//   - matrix: PUT {url}/{txnId} with {"msgtype": "m.notice", "body": ...}.
//   - ntfy: the text as a text/plain body and a Title header.
//
// The text is one line per event ("banned 192.0.2.1 in jail sshd after 5
// failures, for 10m0s (NL, AS64500, NETNAME, Org, abuse abuse@...)"); a
// digest starts with a count line and lists at most 100 events. With a
// secret, every request carries X-Warden-Signature: sha256=<hex of
// HMAC-SHA256(secret, body)> (see Sign); with a token, Authorization:
// Bearer <token>.
package webhook

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"warden/internal/notify/whois"
)

// Kind is what happened.
type Kind string

// Event kinds.
const (
	KindBan   Kind = "ban"
	KindStart Kind = "start"
	KindStop  Kind = "stop"
)

// Event is one thing to report. Jail is set for every kind; the other
// fields describe a ban.
type Event struct {
	Kind     Kind
	Jail     string
	Addr     netip.Addr
	Failures int
	BanTime  time.Duration // negative: permanent
	Time     time.Time
	// Matches are the log lines that led to the ban (untrusted text; only
	// the generic JSON format carries them).
	Matches []string
	// Whois is the whois summary of Addr, nil when unknown.
	Whois *whois.Summary
}

// Ban returns a ban event.
func Ban(jail string, addr netip.Addr, failures int, banTime time.Duration, at time.Time, matches []string, w *whois.Summary) Event {
	return Event{Kind: KindBan, Jail: jail, Addr: addr, Failures: failures, BanTime: banTime, Time: at, Matches: matches, Whois: w}
}

// Start returns a jail start event.
func Start(jail string, at time.Time) Event { return Event{Kind: KindStart, Jail: jail, Time: at} }

// Stop returns a jail stop event.
func Stop(jail string, at time.Time) Event { return Event{Kind: KindStop, Jail: jail, Time: at} }

// Options tune a Notifier; zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// Client sends the requests; nil uses one that follows no redirects
	// (so neither body nor signature goes anywhere but the URL given).
	Client *http.Client
	// QueueSize bounds the events waiting per target (default 1024).
	QueueSize int
	// Backoff is the first retry's delay, doubled each time up to a
	// minute (default 1 s).
	Backoff time.Duration
	// Whois, when set, is asked for the summary of a banned address whose
	// event has none, in the target's goroutine just before delivery
	// (never in Send); for a digest, only its first 100 events are looked
	// up. WhoisFunc adapts a *whois.Client.
	Whois func(ctx context.Context, addr netip.Addr) (*whois.Summary, error)
	// DigestMax bounds the events kept for one digest; later ones are
	// only counted (default 10000).
	DigestMax int
}

// WhoisFunc adapts c for Options.Whois.
func WhoisFunc(c *whois.Client) func(context.Context, netip.Addr) (*whois.Summary, error) {
	return func(ctx context.Context, addr netip.Addr) (*whois.Summary, error) {
		r, err := c.Lookup(ctx, addr)
		if r == nil {
			return nil, err
		}
		return &r.Summary, nil // a partial answer is still worth showing
	}
}

// Stats counts what happened to one target's events.
type Stats struct {
	Name string
	// Sent and Failed count requests (a digest is one); Dropped counts
	// events that found the queue full.
	Sent, Failed, Dropped uint64
}

// Notifier fans events out to targets.
type Notifier struct {
	sinks []*sink
	opts  Options
}

// sink is one target with its queue and counters. The queue is written by
// Send and read by the target's goroutine in Run; it is never closed.
type sink struct {
	t                     Target
	queue                 chan Event
	sent, failed, dropped atomic.Uint64
	seq                   atomic.Uint64 // Matrix transaction ids: base-seq
	base                  int64
}

// New returns a Notifier for targets; call Run to deliver.
func New(targets []Target, opts Options) *Notifier {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.DigestMax <= 0 {
		opts.DigestMax = 10000
	}
	n := &Notifier{opts: opts}
	for _, t := range targets {
		n.sinks = append(n.sinks, &sink{t: t, queue: make(chan Event, opts.QueueSize), base: time.Now().UnixNano()})
	}
	return n
}

// Send queues ev for every target whose jails filter takes it. It never
// blocks: a full queue drops the event and counts it. Safe for concurrent
// use.
func (n *Notifier) Send(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	for _, s := range n.sinks {
		if !s.t.Covers(ev.Jail) {
			continue
		}
		select {
		case s.queue <- ev:
		default:
			s.dropped.Add(1)
		}
	}
}

// Run delivers queued events until ctx ends, one goroutine per target.
// At the end a pending digest gets one last attempt (bounded by the
// target's timeout); events still queued are dropped. It returns nil.
func (n *Notifier) Run(ctx context.Context) error {
	var g errgroup.Group
	for _, s := range n.sinks {
		g.Go(func() error {
			n.runSink(ctx, s)
			return nil
		})
	}
	return g.Wait()
}

// Stats returns the counters of every target, in configuration order.
func (n *Notifier) Stats() []Stats {
	out := make([]Stats, 0, len(n.sinks))
	for _, s := range n.sinks {
		out = append(out, Stats{Name: s.t.Name, Sent: s.sent.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load()})
	}
	return out
}
