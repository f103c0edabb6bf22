package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"warden/internal/action"
	"warden/internal/ban"
	"warden/internal/config"
	"warden/internal/control"
	"warden/internal/notify/webhook"
	"warden/internal/notify/whois"
)

// Webhooks: the [webhook:NAME] sections of fail2ban.conf/.local give every
// jail a target covers a native action (webhookAction) that sends start,
// stop and ban events to one webhook.Notifier per set of targets. Each
// action takes the set of the last successful build when it starts, so a
// jail that a reload keeps follows the new targets too. A reload whose
// targets are the same keeps the notifier (and its pending digest); one
// whose targets changed swaps it: the old one stops once its last action
// stopped, after a short wait for its queued events, sending its digest.
// Server.Run stops the current one after the last ban manager, the same
// way.
//
// Jail options ([DEFAULT] or the jail's own):
//
//	whois            = host:port ; server asked about banned addresses
//	                               (default whois.iana.org:43; off)
//	webhook.restored = true      ; also send bans restored at start (default false)

// webhookDrain bounds the wait for queued events when a notifier stops.
const webhookDrain = 5 * time.Second

// maxWhoisNotes bounds the remembered whois server of banned addresses.
const maxWhoisNotes = 4096

// webhookHub is what the webhook actions of a server share over its life.
// Builds (New, reload, start/stop of a jail, set) run one at a time, but
// actions start and stop on the ban manager's workers, so mu guards the
// fields after it.
type webhookHub struct {
	log   *slog.Logger
	whois *whoisClients // the server's (Options.whoisClients)

	mu     sync.Mutex
	sets   []*hookSet // prepared by a build or running
	latest *hookSet   // what the last build wants; nil: no targets
	// retiring counts notifiers stopping in the background.
	retiring sync.WaitGroup
}

// hookSet is one notifier with the targets it was made for.
type hookSet struct {
	hub     *webhookHub
	targets []webhook.Target
	n       *webhook.Notifier
	// routed counts, per target, the events handed to its queue.
	routed []atomic.Uint64

	// Guarded by hub.mu: the actions using the notifier, and its Run.
	users  int
	cancel context.CancelFunc
	done   chan struct{} // closed by the goroutine running n.Run when it returns

	// servers is the whois server of each banned address (its jail's
	// whois option), read when the notifier looks the address up.
	smu     sync.Mutex
	servers map[netip.Addr]string
}

// webhooksFor reads cfg's [webhook:NAME] targets and returns the set a
// build attaches to the jails: the running one when the targets are the
// same, else a new one. nil means no targets. The set becomes the one
// actions start with once the build succeeds (use).
func (o *Options) webhooksFor(cfg *config.Config) (*hookSet, error) {
	targets, err := webhook.ParseTargets(cfg.Server.Sections)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	h := o.webhooks
	if h == nil {
		if len(targets) == 0 {
			return nil, nil
		}
		h = &webhookHub{log: o.Logger.With("part", "webhook"), whois: o.whoisClients()}
		o.webhooks = h
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var found *hookSet
	keep := h.sets[:0]
	for _, s := range h.sets {
		if found == nil && sameTargets(s.targets, targets) {
			found = s
		}
		if s == found || s == h.latest || s.users > 0 || s.cancel != nil {
			keep = append(keep, s)
		}
	}
	clear(h.sets[len(keep):])
	h.sets = keep
	if found == nil && len(targets) > 0 {
		found = h.newSet(targets)
		h.sets = append(h.sets, found)
	}
	return found, nil
}

// use makes s (nil: no targets) the set that webhook actions start with
// from now on: the last successful build's. Nil-safe.
func (h *webhookHub) use(s *hookSet) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.latest = s
}

// current is the set webhook actions start with, nil when none.
func (h *webhookHub) current() *hookSet {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

// sameTargets compares two target lists, ignoring where they were set.
func sameTargets(a, b []webhook.Target) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Pos, y.Pos = config.Pos{}, config.Pos{}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

func (h *webhookHub) newSet(targets []webhook.Target) *hookSet {
	s := &hookSet{hub: h, targets: targets, routed: make([]atomic.Uint64, len(targets)), servers: map[netip.Addr]string{}}
	s.n = webhook.New(targets, webhook.Options{Logger: h.log, Whois: s.lookup})
	return s
}

// lookup is the notifier's whois: it asks the server of the jail that
// banned addr, and nothing when none is known.
func (s *hookSet) lookup(ctx context.Context, addr netip.Addr) (*whois.Summary, error) {
	s.smu.Lock()
	server, ok := s.servers[addr]
	s.smu.Unlock()
	if !ok {
		return nil, whois.ErrDisabled
	}
	return webhook.WhoisFunc(s.hub.whois.client(server))(ctx, addr)
}

// noteWhois remembers which whois server addr's ban asks.
func (s *hookSet) noteWhois(addr netip.Addr, server string) {
	s.smu.Lock()
	defer s.smu.Unlock()
	if len(s.servers) >= maxWhoisNotes {
		clear(s.servers)
	}
	s.servers[addr] = server
}

// send hands ev to the notifier, counting it for each target it reaches.
func (s *hookSet) send(ev webhook.Event) {
	for i, t := range s.targets {
		if t.Covers(ev.Jail) {
			s.routed[i].Add(1)
		}
	}
	s.n.Send(ev)
}

// covers tells whether a target of the set takes jail's events.
func (s *hookSet) covers(jail string) bool {
	for _, t := range s.targets {
		if t.Covers(jail) {
			return true
		}
	}
	return false
}

// queued counts the events of one-message-per-event targets not yet sent,
// failed or dropped (a digest's events are not counted: stopping sends it).
func (s *hookSet) queued() uint64 {
	var n uint64
	for _, st := range s.stats() {
		n += st.Queued
	}
	return n
}

// acquire starts the notifier for one more action unless it runs.
func (s *hookSet) acquire(ctx context.Context) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	s.users++
	if s.cancel != nil {
		return
	}
	if !slices.Contains(h.sets, s) {
		h.sets = append(h.sets, s) // a retired set in use again
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	s.cancel, s.done = cancel, done
	go func() {
		defer close(done)
		_ = s.n.Run(rctx)
	}()
}

// release ends one action's use; the last one stops a notifier that the
// latest build no longer wants, in the background.
func (s *hookSet) release() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.users > 0 {
		s.users--
	}
	if s.users > 0 || h.latest == s || s.cancel == nil {
		return
	}
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	h.retiring.Add(1)
	go func() {
		defer h.retiring.Done()
		s.stop(cancel, done)
	}()
}

// stop waits (at most webhookDrain) for the queued events, then ends Run,
// which sends a pending digest.
func (s *hookSet) stop(cancel context.CancelFunc, done chan struct{}) {
	deadline := time.Now().Add(webhookDrain)
	for s.queued() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	unsent := s.queued()
	cancel()
	<-done
	for _, st := range s.n.Stats() {
		s.hub.log.Info("webhook stopped", "webhook", st.Name, "sent", st.Sent, "failed", st.Failed, "dropped", st.Dropped)
	}
	if unsent > 0 {
		s.hub.log.Warn("webhook events not sent at stop", "events", unsent)
	}
}

// WebhookStats returns the counters of the current webhook targets, in
// name order; nil without targets.
func (s *Server) WebhookStats() []control.WebhookStatus {
	h := s.opts.webhooks
	if h == nil {
		return nil
	}
	set := h.current()
	if set == nil {
		return nil
	}
	return set.stats()
}

func (s *hookSet) stats() []control.WebhookStatus {
	var out []control.WebhookStatus
	for i, st := range s.n.Stats() {
		w := control.WebhookStatus{Name: st.Name, Sent: st.Sent, Failed: st.Failed, Dropped: st.Dropped}
		if r, done := s.routed[i].Load(), st.Sent+st.Failed+st.Dropped; s.targets[i].Digest <= 0 && r > done {
			w.Queued = r - done
		}
		out = append(out, w)
	}
	return out
}

// closeWebhooks stops every notifier once the last ban manager has
// stopped (its actions' stop events queued), and waits for them.
func (o *Options) closeWebhooks() {
	h := o.webhooks
	if h == nil {
		return
	}
	h.mu.Lock()
	var wg sync.WaitGroup
	for _, s := range h.sets {
		if s.cancel == nil {
			continue
		}
		cancel, done := s.cancel, s.done
		s.cancel, s.done = nil, nil
		wg.Go(func() { s.stop(cancel, done) })
	}
	h.latest = nil
	h.mu.Unlock()
	wg.Wait()
	h.retiring.Wait()
}

// attach adds the webhook action to jr when a target of s covers it.
// A nil set attaches nothing. The action sends to the set current when it
// starts, so a jail a reload keeps follows the new targets.
func (s *hookSet) attach(jr *jailRun, o *Options) error {
	if s == nil || !s.covers(jr.name) {
		return nil
	}
	j := jr.cfg
	restored := false
	if v := strings.TrimSpace(j.Options["webhook.restored"]); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return fmt.Errorf("%s: jail %s: webhook.restored = %q: %w", j.Pos, j.Name, v, err)
		}
		restored = b
	}
	jr.actions = append(jr.actions, &webhookAction{hub: s.hub, jail: j.Name, whois: jailOpt(j, "whois", whois.DefaultServer),
		banTime: jailBanTime(j), noRestored: !restored, now: o.now})
	return nil
}

// webhooksOf is the current set when actions hold a webhook action (a
// jail rebuilt by set gets one again), else nil.
func webhooksOf(actions []ban.Action) *hookSet {
	if w := webhookActionOf(actions); w != nil {
		return w.hub.current()
	}
	return nil
}

// webhookChanged tells whether a reload adds or removes a jail's webhook
// action, so that a jail otherwise unchanged is rebuilt all the same.
func webhookChanged(old, next *jailRun) bool {
	return (webhookActionOf(old.actions) != nil) != (webhookActionOf(next.actions) != nil)
}

func webhookActionOf(actions []ban.Action) *webhookAction {
	for _, a := range actions {
		if w, ok := a.(*webhookAction); ok {
			return w
		}
	}
	return nil
}

// webhookAction is a jail's native webhook action: it queues events on
// the notifier current at its start and never waits for delivery.
type webhookAction struct {
	hub        *webhookHub
	jail       string
	whois      string        // the jail's whois option
	banTime    time.Duration // the jail's, for tickets without one
	noRestored bool
	now        func() time.Time

	mu      sync.Mutex
	started bool
	set     *hookSet // from Start to Stop; nil: no targets now
}

var _ ban.Action = (*webhookAction)(nil)

// Name is the action's name in its jail.
func (a *webhookAction) Name() string { return "webhook" }

// Start joins the notifier and sends the jail's start event.
func (a *webhookAction) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return nil
	}
	a.started = true
	a.set = a.hub.current()
	if a.set != nil {
		a.set.acquire(ctx)
		a.set.send(webhook.Start(a.jail, a.now()))
	}
	return nil
}

// Stop sends the jail's stop event and leaves the notifier.
func (a *webhookAction) Stop(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.started {
		return nil
	}
	a.started = false
	if a.set != nil {
		a.set.send(webhook.Stop(a.jail, a.now()))
		a.set.release()
		a.set = nil
	}
	return nil
}

// Ban sends the ban's event: address (a network's first), failures, ban
// time and the ticket's log lines; whois is looked up on delivery.
func (a *webhookAction) Ban(_ context.Context, t action.Ticket) error {
	if t.Restored && a.noRestored {
		return nil
	}
	a.mu.Lock()
	set := a.set
	a.mu.Unlock()
	if set == nil {
		return nil
	}
	addr, _ := action.TicketAddr(&t)
	bt := t.BanTime
	if bt == 0 {
		bt = a.banTime
	}
	if bt < 0 {
		bt = -1
	}
	set.noteWhois(addr, a.whois)
	set.send(webhook.Ban(a.jail, addr, t.Failures, bt, a.now(), append([]string(nil), t.Matches...), nil))
	return nil
}

// Reban sends nothing: the ban was reported when made.
func (a *webhookAction) Reban(context.Context, action.Ticket) error { return nil }

// Unban sends nothing.
func (a *webhookAction) Unban(context.Context, action.Ticket) error { return nil }

// Prolong sends nothing.
func (a *webhookAction) Prolong(context.Context, action.Ticket) error { return nil }

// Prolongable is false: a longer ban is not news.
func (a *webhookAction) Prolongable() bool { return false }

// NoRestored tells the manager to skip restored bans unless the jail's
// webhook.restored says otherwise.
func (a *webhookAction) NoRestored() bool { return a.noRestored }

// Epoch is always 0: there is nothing to repair.
func (a *webhookAction) Epoch() int { return 0 }

// HasCheck is false: there is nothing to check.
func (a *webhookAction) HasCheck() bool { return false }

// Check does nothing.
func (a *webhookAction) Check(context.Context) error { return nil }
