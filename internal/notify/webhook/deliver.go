package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
)

// maxBackoff caps the delay between two attempts.
const maxBackoff = time.Minute

// maxDigestWhois bounds the whois lookups made for one digest (its first
// events); whoisParallel bounds those running at once.
const (
	maxDigestWhois = maxDigestLines
	whoisParallel  = 8
)

// enrich fills in the whois summary of ban events that lack one, when
// Options.Whois is set. A failed lookup leaves the event as it is.
func (n *Notifier) enrich(ctx context.Context, evs []Event) {
	if n.opts.Whois == nil {
		return
	}
	var g errgroup.Group
	g.SetLimit(whoisParallel)
	for i := range evs {
		ev := &evs[i]
		if ev.Kind != KindBan || ev.Whois != nil || !ev.Addr.IsValid() {
			continue
		}
		g.Go(func() error {
			if w, err := n.opts.Whois(ctx, ev.Addr); err == nil && w != nil {
				ev.Whois = w
			}
			return nil
		})
	}
	_ = g.Wait()
}

// runSink delivers one target's events until ctx ends.
func (n *Notifier) runSink(ctx context.Context, s *sink) {
	if s.t.Digest <= 0 {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-s.queue:
				msg := message{events: []Event{ev}}
				n.enrich(ctx, msg.events)
				n.deliver(ctx, s, msg, s.t.Retries)
			}
		}
	}
	// Digest: the first event after a quiet time opens a period; at its
	// end everything gathered goes out as one message.
	var (
		pending message
		timer   *time.Timer
		expired <-chan time.Time
	)
	pending.digest = true
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
				// One last attempt, bounded by the request timeout.
				n.deliver(context.WithoutCancel(ctx), s, pending, 0)
			}
			return
		case ev := <-s.queue:
			if len(pending.events) < n.opts.DigestMax {
				pending.events = append(pending.events, ev)
			} else {
				pending.omitted++
				if ev.Kind == KindBan {
					pending.omittedBans++
				}
			}
			if timer == nil {
				timer = time.NewTimer(s.t.Digest)
				expired = timer.C
			}
		case <-expired:
			n.enrich(ctx, pending.events[:min(len(pending.events), maxDigestWhois)])
			n.deliver(ctx, s, pending, s.t.Retries)
			pending = message{digest: true}
			timer, expired = nil, nil
		}
	}
}

// deliver sends msg, retrying network errors, 429 and 5xx answers up to
// retries times with exponential backoff.
func (n *Notifier) deliver(ctx context.Context, s *sink, msg message, retries int) {
	log := n.opts.Logger.With("webhook", s.t.Name)
	body, ctype, err := render(s.t.Format, msg)
	if err != nil {
		s.failed.Add(1)
		log.Error("webhook body", "err", err)
		return
	}
	target := s.t.URL
	method := http.MethodPost
	if s.t.Format == FormatMatrix {
		// The transaction id stays the same across retries, so Matrix
		// keeps one event however many attempts reach it.
		method = http.MethodPut
		target += "/" + url.PathEscape(fmt.Sprintf("warden-%d-%d", s.base, s.seq.Add(1)))
	}
	delay := n.opts.Backoff
	for attempt := 0; ; attempt++ {
		retry, err := n.post(ctx, s, method, target, ctype, body, title(msg))
		if err == nil {
			s.sent.Add(1)
			return
		}
		if !retry || attempt >= retries {
			s.failed.Add(1)
			log.Warn("webhook not delivered", "attempts", attempt+1, "err", err)
			return
		}
		log.Debug("webhook retry", "attempt", attempt+1, "in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			s.failed.Add(1)
			return
		case <-t.C:
		}
		delay = min(2*delay, maxBackoff)
	}
}

// errStatus is a refused request.
type errStatus struct{ code int }

func (e errStatus) Error() string { return "HTTP status " + strconv.Itoa(e.code) }

// post makes one request; retry says whether another attempt may succeed.
func (n *Notifier) post(ctx context.Context, s *sink, method, target, ctype string, body []byte, title string) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.t.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	// Every header is fixed or comes from the configuration.
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "warden")
	if s.t.Secret != "" {
		req.Header.Set("X-Warden-Signature", Sign(s.t.Secret, body))
	}
	if s.t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.t.Token)
	}
	if s.t.Format == FormatNtfy {
		req.Header.Set("Title", title)
	}
	resp, err := n.opts.Client.Do(req)
	if err != nil {
		return ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded), err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, errStatus{resp.StatusCode}
	default:
		return false, errStatus{resp.StatusCode}
	}
}

// Sign returns the X-Warden-Signature value of body: "sha256=" and the hex
// HMAC-SHA256 of the body under secret. A receiver recomputes it over the
// raw body and compares with hmac.Equal.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
