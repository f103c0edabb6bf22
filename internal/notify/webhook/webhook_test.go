package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/notify/whois"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files")

// request is what an endpoint received.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// endpoint is an httptest server that records requests and answers with
// the statuses given, in order (200 once they run out).
type endpoint struct {
	srv      *httptest.Server
	reqs     chan request
	mu       sync.Mutex
	statuses []int
}

func newEndpoint(t *testing.T, statuses ...int) *endpoint {
	e := &endpoint{reqs: make(chan request, 1000), statuses: statuses}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.reqs <- request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		e.mu.Lock()
		code := 200
		if len(e.statuses) > 0 {
			code, e.statuses = e.statuses[0], e.statuses[1:]
		}
		e.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// next waits for the next request.
func (e *endpoint) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-e.reqs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request")
		return request{}
	}
}

// none checks that no request arrives within d.
func (e *endpoint) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case r := <-e.reqs:
		t.Fatalf("unexpected request %s %s: %s", r.Method, r.Path, r.Body)
	case <-time.After(d):
	}
}

// start runs n until the test ends.
func start(t *testing.T, n *Notifier) context.CancelFunc {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return cancel
}

var (
	t0       = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	docAddr  = netip.MustParseAddr("192.0.2.33")
	docWhois = &whois.Summary{NetName: "EXAMPLE-NET", Country: "NL", Org: "Example Hosting B.V.", AS: "AS64500",
		Abuse: "abuse@hosting.example", CIDR: "192.0.2.0/24", Server: "whois.ripe.net:43"}
)

func sampleBan() Event {
	return Ban("sshd", docAddr, 5, 10*time.Minute, t0, []string{"Failed password for root from 192.0.2.33 port 22 ssh2"}, docWhois)
}

func TestSignatureVerifies(t *testing.T) {
	e := newEndpoint(t)
	n := New([]Target{{Name: "a", URL: e.srv.URL + "/hook", Format: FormatJSON, Secret: "s3cret", Timeout: time.Second}}, Options{})
	start(t, n)
	n.Send(sampleBan())
	r := e.next(t)
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(r.Body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	got := r.Header.Get("X-Warden-Signature")
	if !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("signature %q, want %q", got, want)
	}
	// A body changed in transit no longer verifies.
	mac.Reset()
	mac.Write(append(r.Body, ' '))
	if "sha256="+hex.EncodeToString(mac.Sum(nil)) == got {
		t.Error("signature does not depend on the body")
	}
}

func TestFormats(t *testing.T) {
	hostile := sampleBan()
	hostile.Whois = &whois.Summary{Org: "<!channel> @everyone & co", NetName: "NET\r\nX-Injected: 1"}
	hostile.Matches = []string{"user \r\nX-Injected: 1 from 192.0.2.33"}
	tests := []struct {
		format     Format
		event      Event
		golden     string
		method     string
		ctype      string
		pathPrefix string
		title      string
	}{
		{FormatJSON, sampleBan(), "json-ban", "POST", "application/json", "/hook", ""},
		{FormatJSON, Start("sshd", t0), "json-start", "POST", "application/json", "/hook", ""},
		{FormatSlack, sampleBan(), "slack-ban", "POST", "application/json", "/hook", ""},
		{FormatSlack, hostile, "slack-hostile", "POST", "application/json", "/hook", ""},
		{FormatDiscord, hostile, "discord-hostile", "POST", "application/json", "/hook", ""},
		{FormatMatrix, sampleBan(), "matrix-ban", "PUT", "application/json", "/hook/warden-", ""},
		{FormatNtfy, sampleBan(), "ntfy-ban", "POST", "text/plain; charset=utf-8", "/hook", "warden: banned 192.0.2.33 in sshd"},
		{FormatNtfy, Stop("sshd", t0), "ntfy-stop", "POST", "text/plain; charset=utf-8", "/hook", "warden: jail sshd stop"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			e := newEndpoint(t)
			n := New([]Target{{Name: "a", URL: e.srv.URL + "/hook", Format: tt.format, Token: "tok", Timeout: time.Second}}, Options{})
			start(t, n)
			n.Send(tt.event)
			r := e.next(t)
			if r.Method != tt.method || !strings.HasPrefix(r.Path, tt.pathPrefix) {
				t.Errorf("%s %s", r.Method, r.Path)
			}
			if got := r.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("content type %q", got)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer tok" {
				t.Errorf("authorization %q", got)
			}
			if got := r.Header.Get("Title"); got != tt.title {
				t.Errorf("title %q, want %q", got, tt.title)
			}
			for k := range r.Header {
				if strings.EqualFold(k, "X-Injected") {
					t.Error("event text became a header")
				}
			}
			if ct := tt.ctype; strings.HasPrefix(ct, "application/json") && !json.Valid(r.Body) {
				t.Errorf("invalid JSON %s", r.Body)
			}
			golden(t, filepath.Join("testdata", "golden", tt.golden+".txt"), r.Body)
		})
	}
}

// golden compares got with the file, or rewrites it with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\n got %s\nwant %s", file, got, want)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		retries  int
		requests int
		sent     uint64
		failed   uint64
	}{
		{"500 then success", []int{500, 503, 200}, 5, 3, 1, 0},
		{"429 is retried", []int{429}, 5, 2, 1, 0},
		{"400 is final", []int{400}, 5, 1, 0, 1},
		{"redirect is not followed", []int{302}, 5, 1, 0, 1},
		{"retries run out", []int{500, 500, 500, 500}, 2, 3, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t, tt.statuses...)
			n := New([]Target{{Name: "a", URL: e.srv.URL, Format: FormatSlack, Timeout: time.Second, Retries: tt.retries}},
				Options{Backoff: 5 * time.Millisecond})
			start(t, n)
			n.Send(sampleBan())
			var first []byte
			for i := range tt.requests {
				r := e.next(t)
				if i == 0 {
					first = r.Body
				} else if string(r.Body) != string(first) {
					t.Errorf("retry %d sent another body", i)
				}
			}
			e.none(t, 100*time.Millisecond)
			waitStats(t, n, func(s Stats) bool { return s.Sent == tt.sent && s.Failed == tt.failed })
		})
	}
}

// waitStats waits until the first target's counters satisfy ok.
func waitStats(t *testing.T, n *Notifier, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(n.Stats()[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", n.Stats()[0])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDigestOf500BansIsOneRequest(t *testing.T) {
	e := newEndpoint(t)
	n := New([]Target{{Name: "d", URL: e.srv.URL, Format: FormatJSON, Timeout: time.Second, Digest: 300 * time.Millisecond}}, Options{})
	start(t, n)
	n.Send(Start("sshd", t0))
	for i := range 500 {
		ev := sampleBan()
		ev.Addr = netip.AddrFrom4([4]byte{198, 51, 100 + byte(i/250), byte(i % 250)})
		ev.Time = t0.Add(time.Duration(i) * time.Second)
		n.Send(ev)
	}
	r := e.next(t)
	var body jsonBody
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if !body.Digest || len(body.Events) != 501 || body.Omitted != 0 {
		t.Fatalf("digest=%v events=%d omitted=%d", body.Digest, len(body.Events), body.Omitted)
	}
	if body.Events[0].Kind != KindStart || body.Events[500].Addr != "198.51.101.249" {
		t.Errorf("events out of order: %+v ... %+v", body.Events[0], body.Events[500])
	}
	if !strings.HasPrefix(body.Text, "warden digest: 500 bans, 1 other events") {
		t.Errorf("text %q", body.Text[:80])
	}
	if strings.Count(body.Text, "\n- ") != maxDigestLines || !strings.HasSuffix(body.Text, "\n… and 401 more\n") {
		t.Errorf("digest text not capped at %d lines", maxDigestLines)
	}
	e.none(t, 700*time.Millisecond)
	// The next event opens a new period.
	n.Send(sampleBan())
	if err := json.Unmarshal(e.next(t).Body, &body); err != nil || len(body.Events) != 1 {
		t.Errorf("second digest: %v, %d events", err, len(body.Events))
	}
}

func TestDigestCapAndShutdownFlush(t *testing.T) {
	e := newEndpoint(t)
	n := New([]Target{{Name: "d", URL: e.srv.URL, Format: FormatSlack, Timeout: time.Second, Digest: time.Hour}}, Options{DigestMax: 10})
	cancel := start(t, n)
	for range 25 {
		n.Send(sampleBan())
	}
	waitQueued(t, n)
	cancel()
	r := e.next(t)
	var body struct{ Text string }
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(body.Text, "warden digest: 25 bans, 0 other events") || !strings.HasSuffix(body.Text, "\n… and 15 more\n") {
		t.Errorf("text %q", body.Text)
	}
	if got := strings.Count(body.Text, "\n- banned 192.0.2.33"); got != 10 {
		t.Errorf("%d ban lines", got)
	}
}

// waitQueued waits until every target's queue is empty.
func waitQueued(t *testing.T, n *Notifier) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, s := range n.sinks {
		for len(s.queue) > 0 {
			if time.Now().After(deadline) {
				t.Fatal("queue not drained")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func TestSlowEndpointDoesNotBlockSend(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	n := New([]Target{{Name: "slow", URL: srv.URL, Format: FormatJSON, Timeout: 10 * time.Second}}, Options{QueueSize: 10})
	start(t, n)
	begin := time.Now()
	for range 1000 {
		n.Send(sampleBan())
	}
	if d := time.Since(begin); d > 500*time.Millisecond {
		t.Errorf("1000 sends took %v", d)
	}
	// One event is in flight, ten wait; the rest were dropped.
	if s := n.Stats()[0]; s.Dropped < 1000-11 || s.Dropped > 1000-10 {
		t.Errorf("dropped %d", s.Dropped)
	}
}

func TestJailFilter(t *testing.T) {
	e := newEndpoint(t)
	n := New([]Target{{Name: "f", URL: e.srv.URL, Format: FormatJSON, Timeout: time.Second, Jails: []string{"sshd"}}}, Options{})
	start(t, n)
	other := sampleBan()
	other.Jail = "nginx"
	n.Send(other)
	n.Send(sampleBan())
	var body jsonBody
	if err := json.Unmarshal(e.next(t).Body, &body); err != nil || body.Events[0].Jail != "sshd" {
		t.Errorf("got %v %+v", err, body)
	}
	e.none(t, 100*time.Millisecond)
}
