package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"warden/internal/ban"
	"warden/internal/config"
	"warden/internal/control"
	"warden/internal/notify"
	"warden/internal/notify/whois"
	"warden/internal/store"
)

// mailHub is what the jails' native mail actions share: the [mail]
// settings and one mailer (queue, delivery, digest). It is made by the
// first mail action built and kept across reloads; builds run one at a
// time, so only they touch it.
type mailHub struct {
	settings notify.Settings
	mailer   *notify.Mailer
	digest   *notify.Digest
	whois    *whoisClients // the server's (Options.whoisClients)
}

// whoisClients are the server's whois clients, one per starting server
// (the jail option whois), each made on first use and kept for the
// server's life. The mail and webhook actions ask the same ones, so an
// address banned in both is looked up once (one 24-hour cache, concurrent
// lookups merged). Safe for concurrent use: webhooks ask on delivery.
type whoisClients struct {
	mu sync.Mutex
	m  map[string]*whois.Client
}

// whoisClients returns the server's whois clients, made by the first build
// that needs them (builds run one at a time).
func (o *Options) whoisClients() *whoisClients {
	if o.whois == nil {
		o.whois = &whoisClients{m: map[string]*whois.Client{}}
	}
	return o.whois
}

// client returns the client asking server first.
func (w *whoisClients) client(server string) *whois.Client {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.m[server]
	if c == nil {
		c = whois.New(whois.Config{Server: server})
		w.m[server] = c
	}
	return c
}

// settings reads cfg's [mail] section (the running hub's, once there is one).
func (o *Options) mailSettings(cfg *config.Config) (notify.Settings, error) {
	if o.mail != nil {
		return o.mail.settings, nil
	}
	var sec map[string]config.Setting
	if cfg != nil {
		sec = cfg.Server.Sections["mail"]
	}
	return notify.ParseSettings(sec)
}

// hub returns the server's mailHub, making it the first time: the digest,
// if any, is sent with first's envelope (unless [mail] dest and sender
// say otherwise) and asks whoisServer.
func (o *Options) hub(st notify.Settings, first *notify.Composer, whoisServer string) *mailHub {
	if o.mail != nil {
		return o.mail
	}
	h := &mailHub{settings: st, whois: o.whoisClients()}
	mc := notify.MailerConfig{Deliver: st.Deliverer(), Logger: o.Logger.With("part", "mail"), Queue: st.Queue,
		Attempts: st.Attempts, Backoff: st.Backoff, SpoolEvery: st.Retry, Now: o.now}
	if st.Digest > 0 {
		dc := *first
		if st.Sender != "" {
			dc.From = st.Sender
		}
		if len(st.Dest) > 0 {
			dc.To = st.Dest
		}
		h.digest = notify.NewDigest(notify.DigestConfig{Composer: &dc, Whois: h.lookup(whoisServer), Since: o.now()})
		mc.Digest, mc.DigestEvery = h.digest, st.Digest
	}
	h.mailer = notify.NewMailer(mc)
	o.mail = h
	return h
}

// lookup adapts the whois client for server to what notify asks of one.
func (h *mailHub) lookup(server string) notify.WhoisFunc {
	c := h.whois.client(server)
	return func(ctx context.Context, a netip.Addr) (*notify.Whois, error) {
		r, err := c.Lookup(ctx, a)
		if errors.Is(err, whois.ErrDisabled) {
			return nil, notify.ErrWhoisOff
		}
		if r == nil {
			return nil, err
		}
		// A partial answer (a referral failed) is still worth showing.
		return &notify.Whois{Summary: r.Summary, Raw: r.Raw}, nil
	}
}

// notifyAction returns a native (Go) action standing in for a fail2ban mail
// action, or ok=false.
func notifyAction(a *config.Action, j *config.Jail, o *Options) (act ban.Action, ok bool, err error) {
	kind, ok := notify.KindOf(actionBase(a))
	if !ok {
		return nil, false, nil
	}
	st, err := o.mailSettings(o.Config)
	if err != nil {
		return nil, false, err
	}
	p, err := actionParams(a)
	if err != nil {
		return nil, false, err
	}
	param := func(k, def string) string {
		if v := strings.TrimSpace(p[k]); v != "" {
			return v
		}
		return def
	}
	num := func(k string, def int) (int, error) {
		v := param(k, "")
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s = %q: want a whole number above 0", k, v)
		}
		return n, nil
	}
	to, err := notify.SplitAddresses(param("dest", param("destemail", jailOpt(j, "destemail", "root"))))
	if err != nil {
		return nil, false, fmt.Errorf("dest: %w", err)
	}
	sender := param("sender", jailOpt(j, "sender", "fail2ban"))
	if err := notify.CheckAddress(sender); err != nil {
		return nil, false, fmt.Errorf("sender: %w", err)
	}
	grepMax, err := num("grepmax", 1000)
	if err != nil {
		return nil, false, err
	}
	perFile := grepMax
	if f := strings.Fields(param("grepopts", "")); len(f) >= 2 && f[0] == "-m" {
		if perFile, err = strconv.Atoi(f[1]); err != nil || perFile < 1 {
			return nil, false, fmt.Errorf("grepopts = %q: want -m N", param("grepopts", ""))
		}
	}
	lines, err := num("lines", 5)
	if err != nil {
		return nil, false, err
	}
	composer := &notify.Composer{Host: st.Hostname, From: sender, FromName: param("sendername", "Fail2Ban"),
		To: to, Now: o.now}
	whoisServer := jailOpt(j, "whois", whois.DefaultServer)
	h := o.hub(st, composer, whoisServer)
	return notify.NewAction(notify.ActionConfig{
		ActName:     a.Name,
		Jail:        j.Name,
		Title:       param("name", j.Name),
		Kind:        kind,
		Composer:    composer,
		Mailer:      h.mailer,
		Whois:       h.lookup(whoisServer),
		LogPaths:    logGlobs(param("logpath", "")),
		GrepMax:     grepMax,
		GrepPerFile: perFile,
		BufferLines: lines,
		NoRestored:  a.NoRestored,
		Alerts:      h.settings.Alerts,
		BanTime:     jailBanTime(j),
		Logger:      o.Logger.With("jail", j.Name),
	}), true, nil
}

// actionParams are the action's options and parameters with the <tags>
// among them resolved (grepopts = -m <grepmax>).
func actionParams(a *config.Action) (map[string]string, error) {
	all := map[string]string{}
	for k, v := range a.Options {
		all[k] = v
	}
	for k, v := range a.Params {
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m, err := config.SubstituteTags(keys, all, map[string]bool{"matches": true, "ipmatches": true, "ipjailmatches": true}, "")
	if err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	return m, nil
}

func jailOpt(j *config.Jail, k, def string) string {
	if v := strings.TrimSpace(j.Options[k]); v != "" {
		return v
	}
	return def
}

func jailBanTime(j *config.Jail) time.Duration {
	if j.BanTime < 0 {
		return -1
	}
	return j.BanTime
}

// logGlobs splits a logpath option into globs, dropping head/tail markers.
func logGlobs(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		for _, m := range []string{" head", " tail"} {
			line = strings.TrimSpace(strings.TrimSuffix(line, m))
		}
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// attach gives the mailer the database as its spool: mail that cannot be
// delivered waits there and is tried again later. A nil hub (no mail
// action) does nothing.
func (h *mailHub) attach(st *store.Store) {
	if h == nil {
		return
	}
	h.mailer.SetSpool(storeSpool{st: st, now: time.Now})
}

// storeSpool is the ban database as the mailer's spool.
type storeSpool struct {
	st  *store.Store
	now func() time.Time
}

var _ notify.Retrier = storeSpool{}

func (s storeSpool) Put(ctx context.Context, from string, to []string, msg []byte, lastErr string) error {
	return s.st.PutMail(ctx, store.QueuedMail{Time: s.now(), Sender: from, Recipients: to, Message: msg, LastError: lastErr})
}

func (s storeSpool) Spooled(ctx context.Context, limit int) ([]notify.Spooled, error) {
	ms, err := s.st.QueuedMails(ctx, limit)
	out := make([]notify.Spooled, 0, len(ms))
	for _, m := range ms {
		out = append(out, notify.Spooled{ID: m.ID, From: m.Sender, To: m.Recipients, Msg: m.Message, Attempts: m.Attempts})
	}
	return out, err
}

func (s storeSpool) Delivered(ctx context.Context, id int64) error { return s.st.MailDone(ctx, id) }

func (s storeSpool) Failed(ctx context.Context, id int64, lastErr string) error {
	return s.st.MailFailed(ctx, id, lastErr)
}

// status is the mail part of `client status`; nil without mail actions.
func (h *mailHub) status(ctx context.Context) *control.MailStatus {
	if h == nil {
		return nil
	}
	s := h.mailer.Stats()
	ms := &control.MailStatus{Sent: s.Sent, Queued: s.Queued, Failed: s.Failed, Dropped: s.Dropped, LastError: s.LastError}
	if sp, ok := h.mailer.Spool().(storeSpool); ok {
		ms.Stored, _ = sp.st.CountMails(ctx)
	}
	return ms
}
