package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"warden/internal/action"
	"warden/internal/ban"
)

// LinesFrom says where a ban message's log lines come from.
type LinesFrom int

// The sources of log lines, one per family of fail2ban mail actions.
const (
	NoLines            LinesFrom = iota
	LogLines                     // -lines: lines of logpath holding the address
	TicketMatches                // -matches: the ticket's matches
	AddressMatches               // -ipmatches: the address's matches in every jail
	AddressJailMatches           // -ipjailmatches: the address's matches in this jail
)

// Kind is what a fail2ban mail action puts in its ban message.
type Kind struct {
	Whois    bool
	Lines    LinesFrom
	Buffered bool // sendmail-buffered, mail-buffered: summaries of N bans
}

// KindOf maps an action.d base name to the native action standing in for
// it; ok is false for any other action.
func KindOf(base string) (k Kind, ok bool) {
	switch base {
	case "sendmail", "mail":
		return Kind{}, true
	case "sendmail-whois", "mail-whois":
		return Kind{Whois: true}, true
	case "sendmail-whois-lines", "mail-whois-lines":
		return Kind{Whois: true, Lines: LogLines}, true
	case "sendmail-whois-matches":
		return Kind{Whois: true, Lines: TicketMatches}, true
	case "sendmail-whois-ipmatches":
		return Kind{Whois: true, Lines: AddressMatches}, true
	case "sendmail-whois-ipjailmatches":
		return Kind{Whois: true, Lines: AddressJailMatches}, true
	case "sendmail-buffered", "mail-buffered":
		return Kind{Buffered: true}, true
	}
	return Kind{}, false
}

// ActionConfig configures one native mail action.
type ActionConfig struct {
	ActName  string // the action's name in the jail (for logs and Name)
	Jail     string // the jail's name (digests, alert rules)
	Title    string // fail2ban's <name>: how messages call the jail
	Kind     Kind
	Composer *Composer
	Mailer   *Mailer   // shared by every mail action of the server
	Whois    WhoisFunc // nil: whois sections say lookups are off
	// LogPaths, GrepMax and GrepPerFile are the -lines options: logpath
	// globs, the most lines shown (grepmax) and the most taken from one
	// file (grepopts' -m).
	LogPaths             []string
	GrepMax, GrepPerFile int
	// BufferLines is sendmail-buffered's lines: bans per summary.
	BufferLines int
	NoRestored  bool
	Alerts      Alerts        // in digest mode: bans mailed at once
	BanTime     time.Duration // the jail's, for tickets without one
	Logger      *slog.Logger
}

// Action is a native stand-in for fail2ban's sendmail-* and mail-* actions:
// it queues messages on the shared Mailer and never waits for delivery.
type Action struct {
	cfg ActionConfig
	log *slog.Logger

	mu      sync.Mutex
	started bool
	buffer  []Entry // sendmail-buffered's gathered bans
}

var _ ban.Action = (*Action)(nil)

// NewAction returns the action; it does nothing until Start.
func NewAction(cfg ActionConfig) *Action {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.GrepMax <= 0 {
		cfg.GrepMax = 1000
	}
	if cfg.GrepPerFile <= 0 {
		cfg.GrepPerFile = cfg.GrepMax
	}
	if cfg.BufferLines <= 0 {
		cfg.BufferLines = 5
	}
	return &Action{cfg: cfg, log: cfg.Logger.With("action", cfg.ActName)}
}

// Name is the action's name in its jail.
func (a *Action) Name() string { return a.cfg.ActName }

// digestMode tells whether bans go to the digest instead of one mail each.
func (a *Action) digestMode() bool { return a.cfg.Mailer.Digest() != nil }

func (a *Action) submit(j Job) {
	if err := a.cfg.Mailer.Submit(j); err != nil {
		a.log.Debug("mail not queued", "err", err)
	}
}

// Start joins the mailer and, outside digest mode, announces the jail.
func (a *Action) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return nil
	}
	a.started = true
	a.cfg.Mailer.Acquire(ctx)
	if a.digestMode() {
		return nil
	}
	note := ""
	if a.cfg.Kind.Buffered {
		note = fmt.Sprintf("Bans are gathered and sent %d at a time.", a.cfg.BufferLines)
	}
	m := a.cfg.Composer.Start(a.cfg.Title, note)
	a.submit(func(context.Context) (*Message, error) { return m, nil })
	return nil
}

// Stop sends what a buffered action gathered and the stop message, then
// leaves the mailer (the last to leave waits for the queue to drain).
func (a *Action) Stop(ctx context.Context) error {
	a.mu.Lock()
	if !a.started {
		a.mu.Unlock()
		return nil
	}
	a.started = false
	buf := a.buffer
	a.buffer = nil
	a.mu.Unlock()
	if len(buf) > 0 {
		m := a.cfg.Composer.Summary(a.cfg.Title, buf)
		a.submit(func(context.Context) (*Message, error) { return m, nil })
	}
	if !a.digestMode() {
		m := a.cfg.Composer.Stop(a.cfg.Title)
		a.submit(func(context.Context) (*Message, error) { return m, nil })
	}
	return a.cfg.Mailer.Release(ctx)
}

// Ban queues the ban's message (or adds it to the digest or buffer). What
// it needs of the ticket is read now; whois and log files are read later
// by the mailer.
func (a *Action) Ban(ctx context.Context, t action.Ticket) error {
	if t.Restored && a.cfg.NoRestored {
		return nil
	}
	addr, text := action.TicketAddr(&t)
	when := t.Time
	if when.IsZero() {
		when = a.cfg.Composer.now()
	}
	entry := Entry{Addr: addr, Prefix: t.Prefix, Jail: a.cfg.Jail, Failures: t.Failures, LastSeen: when, FirstSeen: when}
	if a.cfg.Kind.Buffered {
		a.mu.Lock()
		a.buffer = append(a.buffer, entry)
		var full []Entry
		if len(a.buffer) >= a.cfg.BufferLines {
			full, a.buffer = a.buffer, nil
		}
		a.mu.Unlock()
		if full != nil {
			m := a.cfg.Composer.Summary(a.cfg.Title, full)
			a.submit(func(context.Context) (*Message, error) { return m, nil })
		}
		return nil
	}
	if d := a.cfg.Mailer.Digest(); d != nil {
		d.Add(entry)
		if !a.cfg.Alerts.Match(a.cfg.Jail, addr, t.Failures, t.BanCount) {
			return nil
		}
	}
	bt := t.BanTime
	if bt == 0 {
		bt = a.cfg.BanTime
	}
	r := &Report{Name: a.cfg.Title, Addr: text, Failures: t.Failures, BanTime: bt, Time: when,
		BanCount: t.BanCount, WantWhois: a.cfg.Kind.Whois}
	switch a.cfg.Kind.Lines {
	case TicketMatches:
		r.LinesTitle = fmt.Sprintf("Matches of %s in jail %s", text, a.cfg.Title)
		r.Lines = append([]string(nil), t.Matches...)
	case AddressMatches:
		r.LinesTitle = fmt.Sprintf("Matches of %s in every jail", text)
		r.Lines = t.Matches
		if t.IPMatches != nil {
			r.Lines = t.IPMatches(ctx)
		}
	case AddressJailMatches:
		r.LinesTitle = fmt.Sprintf("Matches of %s in jail %s", text, a.cfg.Title)
		r.Lines = t.Matches
		if t.IPJailMatches != nil {
			r.Lines = t.IPJailMatches(ctx)
		}
	case LogLines:
		r.LinesTitle = fmt.Sprintf("Log lines with %s (at most %d)", text, a.cfg.GrepMax)
	}
	a.submit(func(ctx context.Context) (*Message, error) {
		if r.WantWhois {
			if a.cfg.Whois == nil {
				r.WhoisErr = ErrWhoisOff
			} else {
				r.Whois, r.WhoisErr = a.cfg.Whois(ctx, addr)
			}
		}
		if a.cfg.Kind.Lines == LogLines {
			r.Lines = grepLogs(ctx, a.cfg.LogPaths, text, a.cfg.GrepPerFile, a.cfg.GrepMax)
		}
		return a.cfg.Composer.Ban(r), nil
	})
	return nil
}

// Reban re-applies a ban after a repair: nothing to mail again.
func (a *Action) Reban(context.Context, action.Ticket) error { return nil }

// Unban sends nothing, as fail2ban's mail actions do.
func (a *Action) Unban(context.Context, action.Ticket) error { return nil }

// Prolong sends nothing.
func (a *Action) Prolong(context.Context, action.Ticket) error { return nil }

// Prolongable is false: a longer ban is not news.
func (a *Action) Prolongable() bool { return false }

// NoRestored tells the manager to skip bans restored at start.
func (a *Action) NoRestored() bool { return a.cfg.NoRestored }

// Epoch is always 0: there is nothing to repair.
func (a *Action) Epoch() int { return 0 }

// HasCheck is false: there is nothing to check.
func (a *Action) HasCheck() bool { return false }

// Check does nothing.
func (a *Action) Check(context.Context) error { return nil }
