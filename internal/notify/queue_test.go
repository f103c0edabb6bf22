package notify

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/notify/whois"
)

// recorder is a Deliverer that fails the first failN attempts of every
// message and records what got through.
type recorder struct {
	mu       sync.Mutex
	failN    int
	tries    map[string]int
	got      []string // subjects in delivery order
	block    chan struct{}
	gotFirst chan struct{}
}

func newRecorder(failN int) *recorder {
	return &recorder{failN: failN, tries: map[string]int{}, gotFirst: make(chan struct{}, 1000)}
}

func (r *recorder) Deliver(ctx context.Context, from string, to []string, msg []byte) error {
	if r.block != nil {
		r.gotFirst <- struct{}{}
		select {
		case <-r.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	subj := ""
	for l := range strings.SplitSeq(string(msg), "\n") {
		if s, ok := strings.CutPrefix(l, "Subject: "); ok {
			subj = s
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries[subj]++
	if r.tries[subj] <= r.failN {
		return fmt.Errorf("try %d of %s refused", r.tries[subj], subj)
	}
	r.got = append(r.got, subj)
	return nil
}

func (r *recorder) delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

type memSpool struct {
	mu   sync.Mutex
	msgs []string
}

func (s *memSpool) Put(_ context.Context, from string, to []string, msg []byte, lastErr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, lastErr)
	return nil
}

func job(subject string) Job {
	return func(context.Context) (*Message, error) {
		return &Message{From: "fail2ban", To: []string{"root"}, Subject: subject, Body: "b"}, nil
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestMailerRetries(t *testing.T) {
	for _, tc := range []struct {
		name             string
		failN, attempts  int
		sent, failed     int64
		retried, spooled int64
	}{
		{"first try", 0, 3, 2, 0, 0, 0},
		{"after two failures", 2, 3, 2, 0, 4, 0},
		{"given up and spooled", 5, 3, 0, 2, 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(tc.failN)
			sp := &memSpool{}
			m := NewMailer(MailerConfig{Deliver: rec, Attempts: tc.attempts, Backoff: time.Millisecond, Spool: sp})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- m.Run(ctx) }()
			for _, s := range []string{"one", "two"} {
				if err := m.Submit(job(s)); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "settled", func() bool { s := m.Stats(); return s.Sent+s.Failed == 2 })
			cancel()
			<-done
			s := m.Stats()
			if s.Sent != tc.sent || s.Failed != tc.failed || s.Retried != tc.retried || s.Spooled != tc.spooled || s.Queued != 0 {
				t.Errorf("stats %+v", s)
			}
			if tc.sent == 2 && strings.Join(rec.delivered(), ",") != "one,two" {
				t.Errorf("delivered %q", rec.delivered())
			}
			if int64(len(sp.msgs)) != tc.spooled {
				t.Errorf("spooled %q", sp.msgs)
			}
		})
	}
}

// TestMailerNeverBlocks: with delivery stuck, Submit returns at once and a
// full queue drops and counts.
func TestMailerNeverBlocks(t *testing.T) {
	rec := newRecorder(0)
	rec.block = make(chan struct{})
	m := NewMailer(MailerConfig{Deliver: rec, Queue: 3, Grace: time.Second})
	m.Acquire(context.Background())
	if err := m.Submit(job("stuck")); err != nil {
		t.Fatal(err)
	}
	<-rec.gotFirst // the worker holds "stuck"; the queue is empty
	start := time.Now()
	var full int
	for i := range 10 {
		if err := m.Submit(job(fmt.Sprint(i))); errors.Is(err, ErrQueueFull) {
			full++
		}
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Submit took %v", d)
	}
	if full != 7 || m.Stats().Dropped != 7 {
		t.Errorf("full %d, stats %+v", full, m.Stats())
	}
	close(rec.block)
	if err := m.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rec.delivered(); strings.Join(got, ",") != "stuck,0,1,2" {
		t.Errorf("delivered %q", got)
	}
}

// TestMailerShutdown: Release delivers what is queued and flushes the
// digest; messages that cannot go within Grace are spooled.
func TestMailerShutdown(t *testing.T) {
	rec := newRecorder(0)
	c := testComposer()
	d := NewDigest(DigestConfig{Composer: c, Since: t0})
	m := NewMailer(MailerConfig{Deliver: rec, Digest: d, DigestEvery: time.Hour})
	m.Acquire(context.Background())
	m.Acquire(context.Background()) // two jails share it
	d.Add(Entry{Addr: netip.MustParseAddr("192.0.2.1"), Jail: "sshd", Failures: 3, LastSeen: t0})
	_ = m.Submit(job("queued"))
	if err := m.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if d.Len() != 1 {
		t.Fatal("digest flushed while a user remains")
	}
	if err := m.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rec.delivered(), ",")
	if !strings.Contains(got, "queued") || !strings.Contains(got, "[warden] digest: 1 bans on gate.example.org") {
		t.Errorf("delivered %q", got)
	}

	// Delivery hangs past Grace: the message is spooled, Release returns.
	hang := newRecorder(0)
	hang.block = make(chan struct{})
	sp := &memSpool{}
	m = NewMailer(MailerConfig{Deliver: hang, Grace: 50 * time.Millisecond, Spool: sp})
	m.Acquire(context.Background())
	_ = m.Submit(job("a"))
	<-hang.gotFirst
	_ = m.Submit(job("b"))
	if err := m.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); s.Spooled != 2 || s.Queued != 0 {
		t.Errorf("stats %+v, spool %q", s, sp.msgs)
	}
}

func TestDigest(t *testing.T) {
	lookups := 0
	whois := func(_ context.Context, a netip.Addr) (*Whois, error) {
		lookups++
		return &Whois{Summary: whois.Summary{Country: "Z" + a.String()[len(a.String())-1:], AS: "AS64500"}}, nil
	}
	d := NewDigest(DigestConfig{Composer: testComposer(), Whois: whois, MaxWhois: 2, Since: t0})
	if d.Flush(context.Background(), t0) != nil {
		t.Fatal("empty digest made a message")
	}
	for i, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.3"} {
		d.Add(Entry{Addr: netip.MustParseAddr(a), Jail: "sshd", Failures: 2, LastSeen: t0.Add(time.Duration(i) * time.Minute)})
	}
	d.Add(Entry{Addr: netip.MustParseAddr("192.0.2.1"), Jail: "recidive", Failures: 1, LastSeen: t0})
	m := d.Flush(context.Background(), t0.Add(15*time.Minute))
	if m == nil {
		t.Fatal("no message")
	}
	if lookups != 2 {
		t.Errorf("%d whois lookups, want 2 (MaxWhois)", lookups)
	}
	for _, want := range []string{
		"made 5 bans of 4 addresses",
		"192.0.2.1                                sshd                     4     2  Z1",
		"192.0.2.1                                recidive                 1     1  Z1",
		"192.0.2.3                                sshd                     2     1  -",
	} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("digest lacks %q:\n%s", want, m.Body)
		}
	}
	if d.Len() != 0 || d.Flush(context.Background(), t0) != nil {
		t.Error("digest not emptied by Flush")
	}
}

// TestDigestWhoisBudget: a whois that never answers holds a digest for the
// budget only.
func TestDigestWhoisBudget(t *testing.T) {
	hang := func(ctx context.Context, _ netip.Addr) (*Whois, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	d := NewDigest(DigestConfig{Composer: testComposer(), Whois: hang, WhoisBudget: 50 * time.Millisecond, Since: t0})
	for i := range 20 {
		d.Add(Entry{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Jail: "sshd", LastSeen: t0})
	}
	start := time.Now()
	m := d.Flush(context.Background(), t0)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("flush took %v", took)
	}
	if m == nil || !strings.Contains(m.Body, "192.0.2.19") {
		t.Errorf("digest %v", m)
	}
}

func TestAlerts(t *testing.T) {
	a192 := netip.MustParseAddr("192.0.2.7")
	for _, tc := range []struct {
		rules    string
		jail     string
		addr     netip.Addr
		fail, bc int
		want     bool
		bad      bool
	}{
		{rules: "", jail: "sshd", addr: a192, want: false},
		{rules: "none", jail: "sshd", addr: a192, want: false},
		{rules: "all", jail: "x", addr: a192, want: true},
		{rules: "jail:sshd, jail:recidive", jail: "recidive", addr: a192, want: true},
		{rules: "jail:sshd, jail:recidive", jail: "apache", addr: a192, want: false},
		{rules: "net:192.0.2.0/24", jail: "x", addr: a192, want: true},
		{rules: "net:192.0.2.8", jail: "x", addr: a192, want: false},
		{rules: "net:192.0.2.0/24", jail: "x", addr: netip.MustParseAddr("::ffff:192.0.2.1"), want: true},
		{rules: "failures:10", jail: "x", addr: a192, fail: 9, want: false},
		{rules: "failures:10", jail: "x", addr: a192, fail: 10, want: true},
		{rules: "bancount:3", jail: "x", addr: a192, bc: 3, want: true},
		{rules: "jail", bad: true},
		{rules: "colour:red", bad: true},
		{rules: "failures:0", bad: true},
		{rules: "net:300.1.1.1", bad: true},
	} {
		as, err := ParseAlerts(tc.rules)
		if (err != nil) != tc.bad {
			t.Errorf("ParseAlerts(%q): %v", tc.rules, err)
			continue
		}
		if got := as.Match(tc.jail, tc.addr, tc.fail, tc.bc); !tc.bad && got != tc.want {
			t.Errorf("%q matches jail=%s addr=%s fail=%d bc=%d: %v", tc.rules, tc.jail, tc.addr, tc.fail, tc.bc, got)
		}
	}
}

func FuzzParseAlerts(f *testing.F) {
	f.Add("jail:sshd, net:192.0.2.0/24 failures:3")
	f.Add("bancount:x,all,none")
	f.Fuzz(func(t *testing.T, s string) {
		as, err := ParseAlerts(s)
		if err == nil {
			as.Match("sshd", netip.MustParseAddr("192.0.2.1"), 1, 1)
		}
	})
}

// retrySpool is a Retrier in memory.
type retrySpool struct {
	memSpool
	mu2    sync.Mutex
	queued []Spooled
	done   []int64
	failed []string
}

func (s *retrySpool) Spooled(_ context.Context, limit int) ([]Spooled, error) {
	s.mu2.Lock()
	defer s.mu2.Unlock()
	return append([]Spooled(nil), s.queued[:min(limit, len(s.queued))]...), nil
}

func (s *retrySpool) Delivered(_ context.Context, id int64) error {
	s.mu2.Lock()
	defer s.mu2.Unlock()
	s.done = append(s.done, id)
	for i, q := range s.queued {
		if q.ID == id {
			s.queued = append(s.queued[:i], s.queued[i+1:]...)
			break
		}
	}
	return nil
}

func (s *retrySpool) Failed(_ context.Context, id int64, lastErr string) error {
	s.mu2.Lock()
	defer s.mu2.Unlock()
	s.failed = append(s.failed, fmt.Sprint(id, ": ", lastErr))
	return nil
}

func (s *retrySpool) left() int {
	s.mu2.Lock()
	defer s.mu2.Unlock()
	return len(s.queued)
}

// TestMailerRetriesSpool: spooled mail is tried again, a batch a round;
// a failure ends the round and is recorded.
func TestMailerRetriesSpool(t *testing.T) {
	sp := &retrySpool{}
	for i := range 5 {
		sp.queued = append(sp.queued, Spooled{ID: int64(i + 1), From: "fail2ban", To: []string{"root"},
			Msg: []byte(fmt.Sprintf("Subject: spooled %d\n\nb\n", i))})
	}
	rec := newRecorder(1) // every message fails once
	m := NewMailer(MailerConfig{Deliver: rec, SpoolEvery: 5 * time.Millisecond, SpoolBatch: 2})
	m.SetSpool(sp)
	m.Acquire(context.Background())
	waitFor(t, "spool emptied", func() bool { return sp.left() == 0 })
	if err := m.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.delivered(), ","); got != "spooled 0,spooled 1,spooled 2,spooled 3,spooled 4" {
		t.Errorf("delivered %q", got)
	}
	if len(sp.failed) != 5 || !strings.HasPrefix(sp.failed[0], "1: try 1 of spooled 0 refused") {
		t.Errorf("failed %q", sp.failed)
	}
	if s := m.Stats(); s.Resent != 5 || s.Sent != 5 {
		t.Errorf("stats %+v", s)
	}
}
