package server

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/action"
	"warden/internal/control"
)

// hookBody is the generic JSON body as a receiver decodes it.
type hookBody struct {
	Version int  `json:"version"`
	Digest  bool `json:"digest"`
	Events  []struct {
		Kind     string   `json:"kind"`
		Jail     string   `json:"jail"`
		Addr     string   `json:"addr"`
		Failures int      `json:"failures"`
		BanTime  int64    `json:"bantime_seconds"`
		Matches  []string `json:"matches"`
		Whois    *struct {
			Country string `json:"country"`
			NetName string `json:"netname"`
		} `json:"whois"`
	} `json:"events"`
}

// hookReceiver records the requests of an httptest server on loopback.
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    map[string][]hookBody // by path
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	r := &hookReceiver{t: t, secret: secret, got: map[string][]hookBody{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(raw)
		if req.Header.Get("X-Warden-Signature") != "sha256="+hex.EncodeToString(m.Sum(nil)) {
			t.Errorf("%s: bad signature %q", req.URL.Path, req.Header.Get("X-Warden-Signature"))
		}
		var b hookBody
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Errorf("%s: body %q: %v", req.URL.Path, raw, err)
		}
		r.mu.Lock()
		r.got[req.URL.Path] = append(r.got[req.URL.Path], b)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// events lists "kind jail addr" of every event received on path.
func (r *hookReceiver) events(path string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.got[path] {
		for _, e := range b.Events {
			out = append(out, strings.TrimSpace(e.Kind+" "+e.Jail+" "+e.Addr))
		}
	}
	return out
}

func (r *hookReceiver) bodies(path string) []hookBody {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[path])
}

// fakeWhois answers every query on loopback with one network in country.
func fakeWhois(t *testing.T, country string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
					fmt.Fprintf(c, "inetnum: 198.51.100.0 - 198.51.100.255\r\nnetname: TEST-NET-2\r\ncountry: %s\r\n", country)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// hookRig is a server on a configuration directory of its own: jails of
// the "app" filter with a shell action, fail2ban.conf written per test.
type hookRig struct {
	reloadRig
	srv *Server
}

func newHookRig(t *testing.T, jails, f2b string) *hookRig {
	r := &hookRig{reloadRig: reloadRig{t: t, dir: t.TempDir()}}
	r.record = filepath.Join(r.dir, "record")
	r.write("filter.d/app.conf", "[Definition]\nfailregex = login failed from <HOST>$\n")
	r.write("action.d/record.conf", "[Definition]\nactionban = echo ban <ip> >> "+r.record+"\n")
	r.write("jail.conf", jails)
	r.write("fail2ban.conf", f2b)
	for _, n := range []string{"app", "other"} {
		r.write(n+".log", "")
	}
	return r
}

func (r *hookRig) options() Options {
	cfg, err := r.load()
	if err != nil {
		r.t.Fatal(err)
	}
	return Options{Config: cfg, DBPath: filepath.Join(r.dir, "w.db"), Socket: filepath.Join(r.dir, "w.sock"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notify: func(string) error { return nil }, Load: r.load}
}

// run starts the server; the returned stop ends it and waits.
func (r *hookRig) run() (stop func()) {
	t := r.t
	opts := r.options()
	ready := make(chan struct{})
	opts.Notify = func(s string) error {
		if s == "READY=1" {
			close(ready)
		}
		return nil
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	waitUntil(t, "the socket answers", func() bool {
		r.c, err = control.Dial(ctx, filepath.Join(r.dir, "w.sock"))
		return err == nil
	})
	t.Cleanup(func() { r.c.Close() })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no READY=1 within 10 s")
	}
	return stop
}

// hookJails is a jail.conf with jails app and other; extra goes to
// [DEFAULT], app to app's section.
func hookJails(dir, extra, app string) string {
	return reloadJailHead + "maxretry = 2\nmaxmatches = 5\nwhois = off\n" + extra +
		"\n[app]\nenabled = true\nfilter = app\naction = record\nlogpath = " + filepath.Join(dir, "app.log") + "\n" + app +
		"\n[other]\nenabled = true\nfilter = app\naction = record\nlogpath = " + filepath.Join(dir, "other.log") + "\n"
}

// webhookJails names the jails that got a webhook action.
func webhookJails(s *Server) []string {
	var out []string
	for _, j := range s.jails {
		if webhookActionOf(j.actions) != nil {
			out = append(out, j.name)
		}
	}
	return out
}

func TestWebhookAttach(t *testing.T) {
	for _, tc := range []struct {
		name, f2b string
		want      []string
	}{
		{"no targets", "[Definition]\n", nil},
		{"one for app", "[webhook:a]\nurl = http://127.0.0.1:9/\njails = app\n", []string{"app"}},
		{"one for all", "[webhook:a]\nurl = http://127.0.0.1:9/\njails = app\n[webhook:b]\nurl = http://127.0.0.1:9/\n", []string{"app", "other"}},
		{"a jail that is not run", "[webhook:a]\nurl = http://127.0.0.1:9/\njails = nope\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newHookRig(t, "", tc.f2b)
			r.write("jail.conf", hookJails(r.dir, "", ""))
			s, err := New(r.options())
			if err != nil {
				t.Fatal(err)
			}
			if got := webhookJails(s); !slices.Equal(got, tc.want) {
				t.Errorf("jails with a webhook action %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWebhookConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, f2b, jailExtra, want string }{
		{"bad url", "[Definition]\n[webhook:a]\nurl = ftp://example.org/\n", "", "fail2ban.conf:3: [webhook:a]"},
		{"bad format", "[webhook:a]\nurl = http://127.0.0.1:9/\nformat = xml\n", "", "fail2ban.conf:3: [webhook:a]"},
		{"no url", "[webhook:a]\nformat = json\n", "", "url is missing"},
		{"bad restored", "[webhook:a]\nurl = http://127.0.0.1:9/\n", "webhook.restored = maybe\n", "webhook.restored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newHookRig(t, "", tc.f2b)
			r.write("jail.conf", hookJails(r.dir, tc.jailExtra, ""))
			_, err := New(r.options())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestWebhookServer drives a running server: bans reach the receiver as
// signed JSON with address, jail, failures, ban time, log lines and the
// jail's whois; a reload with the same targets keeps the notifier, one with
// other targets swaps it and the old one sends its digest; a refused
// reload changes nothing; stop sends the stop events.
func TestWebhookServer(t *testing.T) {
	rcv := newHookReceiver(t, "s3cret")
	wh := fakeWhois(t, "NL")
	f2b := func(extra string) string {
		return "[Definition]\n[webhook:each]\nurl = " + rcv.srv.URL + "/each\nsecret = s3cret\njails = app\nretries = 0\n" + extra
	}
	digest := "[webhook:dig]\nurl = " + rcv.srv.URL + "/dig\nsecret = s3cret\ndigest = 1h\n"
	r := newHookRig(t, "", f2b(digest))
	r.write("jail.conf", hookJails(r.dir, "", "whois = "+wh+"\n"))
	stop := r.run()
	hub := r.srv.opts.webhooks
	latest := func() (s *hookSet, running bool) {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		return hub.latest, hub.latest != nil && hub.latest.cancel != nil
	}
	first, _ := latest()

	waitUntil(t, "app's start event", func() bool { return slices.Contains(rcv.events("/each"), "start app") })
	r.fail("app", "198.51.100.7", 2)
	r.fail("other", "198.51.100.8", 2)
	waitUntil(t, "app's ban event", func() bool { return len(rcv.events("/each")) == 2 })
	if got := rcv.events("/each"); !slices.Equal(got, []string{"start app", "ban app 198.51.100.7"}) {
		t.Errorf("events %q, want app's start and ban only", got)
	}
	ev := rcv.bodies("/each")[1].Events[0]
	if ev.Failures != 2 || ev.BanTime != 3600 || len(ev.Matches) != 2 || !strings.HasSuffix(ev.Matches[0], "login failed from 198.51.100.7") {
		t.Errorf("ban event %+v", ev)
	}
	if ev.Whois == nil || ev.Whois.Country != "NL" || ev.Whois.NetName != "TEST-NET-2" {
		t.Errorf("ban event whois %+v, want the jail's whois server's answer", ev.Whois)
	}
	waitUntil(t, "both bans recorded", func() bool { return r.recorded("ban 198.51.100.8") })

	// Same targets (a jail changed): the notifier stays, digest pending.
	r.write("jail.conf", hookJails(r.dir, "usedns = no\n", "whois = "+wh+"\n"))
	if err := r.srv.Reload(context.Background(), control.ReloadOptions{}); err != nil {
		t.Fatal(err)
	}
	if cur, running := latest(); cur != first || !running {
		t.Error("a reload with the same targets replaced or stopped the notifier")
	}
	if n := len(rcv.bodies("/dig")); n != 0 {
		t.Errorf("%d digests sent before the targets changed", n)
	}

	// A bad target: refused with its place, the notifier stays.
	r.write("fail2ban.conf", f2b("[webhook:bad]\nurl = nowhere\n"))
	if err := r.srv.Reload(context.Background(), control.ReloadOptions{}); err == nil || !strings.Contains(err.Error(), "fail2ban.conf:") {
		t.Errorf("reload with a bad url: %v", err)
	}
	if cur, _ := latest(); cur != first {
		t.Error("a refused reload replaced the notifier")
	}

	// The digest target removed: the old notifier stops and sends its digest.
	r.write("fail2ban.conf", f2b(""))
	if err := r.srv.Reload(context.Background(), control.ReloadOptions{}); err != nil {
		t.Fatal(err)
	}
	if cur, _ := latest(); cur == first {
		t.Fatal("a reload with other targets kept the notifier")
	}
	waitUntil(t, "the old notifier's digest", func() bool { return len(rcv.bodies("/dig")) == 1 })
	d := rcv.bodies("/dig")[0]
	if !d.Digest || !slices.Contains(rcv.events("/dig"), "ban app 198.51.100.7") || !slices.Contains(rcv.events("/dig"), "ban other 198.51.100.8") {
		t.Errorf("digest %+v lacks the two bans", rcv.events("/dig"))
	}
	if cur, _ := latest(); actionSet(r.srv, "app") != cur {
		t.Error("the jail the reload kept still uses the old notifier")
	}
	if webhookActionOf(r.srv.view().byName["other"].actions) != nil {
		t.Error("jail other, no longer covered, kept its webhook action")
	}
	r.fail("app", "198.51.100.9", 2)
	waitUntil(t, "a ban through the new notifier", func() bool { return slices.Contains(rcv.events("/each"), "ban app 198.51.100.9") })

	// set rebuilds the jail: its new webhook action uses the running notifier.
	second, _ := latest()
	if _, err := r.c.Set(context.Background(), "app", "addfailregex", "^.* bad user from <HOST>$"); err != nil {
		t.Fatal(err)
	}
	// The rebuilt jail's action takes the set when its start job runs,
	// which the action pool does after Set returns.
	waitUntil(t, "app's rebuilt webhook action on the running set", func() bool { return actionSet(r.srv, "app") == second })
	r.fail("app", "198.51.100.10", 2)
	waitUntil(t, "a ban after set", func() bool { return slices.Contains(rcv.events("/each"), "ban app 198.51.100.10") })

	// status over the socket: the new notifier sent at least app's start
	// and two bans. The receiver records a post before its answer reaches
	// the sender, which only then counts it sent: wait until nothing is
	// queued.
	var status control.ServerStatus
	waitUntil(t, "the webhook queue empty in status", func() bool {
		var err error
		if status, err = r.c.Status(context.Background()); err != nil {
			t.Fatal(err)
		}
		return len(status.Webhooks) != 1 || status.Webhooks[0].Queued == 0
	})
	st := status.Webhooks
	if len(st) != 1 || st[0].Name != "each" || st[0].Sent < 3 || st[0].Failed+st[0].Dropped+st[0].Queued != 0 {
		t.Errorf("status webhooks %+v, want each alone, 3 or more sent, nothing else", st)
	}
	if out := control.FormatServerStatus(status); !strings.Contains(out, "Webhooks") || !strings.Contains(out, fmt.Sprintf("each:\tsent %d, queued 0, failed 0, dropped 0", st[0].Sent)) {
		t.Errorf("status output lacks the webhook counters:\n%s", out)
	}
	stop()
	if n := len(rcv.bodies("/dig")); n != 1 {
		t.Errorf("%d digests, want only the one sent when its target went away", n)
	}
	if got := rcv.events("/each"); !slices.Contains(got[len(got)-1:], "stop app") {
		t.Errorf("last events %q, want app's stop event delivered before Run returned", got)
	}
	hub.mu.Lock()
	defer hub.mu.Unlock()
	for _, s := range hub.sets {
		if s.cancel != nil {
			t.Error("a notifier still runs after Run returned")
		}
	}
}

// actionSet is the notifier set the jail's running webhook action uses.
func actionSet(s *Server, jail string) *hookSet {
	a := webhookActionOf(s.view().byName[jail].actions)
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.set
}

// TestWebhookRestored: restored bans send nothing unless the jail says
// webhook.restored = true.
func TestWebhookRestored(t *testing.T) {
	for _, tc := range []struct {
		extra string
		want  uint64
	}{{"", 0}, {"webhook.restored = true\n", 1}, {"webhook.restored = no\n", 0}} {
		r := newHookRig(t, "", "[webhook:a]\nurl = http://127.0.0.1:9/\nretries = 0\ntimeout = 1s\n")
		r.write("jail.conf", hookJails(r.dir, tc.extra, ""))
		s, err := New(r.options())
		if err != nil {
			t.Fatal(err)
		}
		a := webhookActionOf(s.byName["app"].actions)
		if a == nil {
			t.Fatal("app has no webhook action")
		}
		ctx := context.Background()
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		before := a.set.routed[0].Load() // the start event
		if a.NoRestored() != (tc.want == 0) {
			t.Errorf("%q: NoRestored %v", tc.extra, a.NoRestored())
		}
		tk := action.Ticket{Addr: netip.MustParseAddr("192.0.2.1"), Failures: 3, Restored: true}
		if err := a.Ban(ctx, tk); err != nil {
			t.Fatal(err)
		}
		if got := a.set.routed[0].Load() - before; got != tc.want {
			t.Errorf("%q: a restored ban queued %d events, want %d", tc.extra, got, tc.want)
		}
		if err := a.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		s.opts.closeWebhooks()
	}
}
