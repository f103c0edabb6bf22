package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"warden/internal/notify/whois/whoistest"
)

// The webhook test runs an HTTP receiver and a whois server of its own on
// loopback inside warden's namespace; warden reaches nothing else.

// webhookBody is the generic JSON body of warden's webhooks.
type webhookBody struct {
	Digest bool `json:"digest"`
	Events []struct {
		Kind     string   `json:"kind"`
		Jail     string   `json:"jail"`
		Addr     string   `json:"addr"`
		Failures int      `json:"failures"`
		BanTime  int64    `json:"bantime_seconds"`
		Matches  []string `json:"matches"`
		Whois    *struct {
			Country string `json:"country"`
		} `json:"whois"`
	} `json:"events"`
}

// kinds counts the body's events by kind.
func (b webhookBody) kinds() map[string]int {
	m := map[string]int{}
	for _, e := range b.Events {
		m[e.Kind]++
	}
	return m
}

// hookSink receives webhooks: it checks each signature and keeps the
// bodies by URL path.
type hookSink struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	bodies map[string][]webhookBody
}

func (s *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("%s: reading the body: %v", r.URL.Path, err)
		return
	}
	mac := hmac.New(sha256.New, []byte(s.secret))
	mac.Write(raw)
	if got, want := r.Header.Get("X-Warden-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		s.t.Errorf("%s: signature %q, want %q", r.URL.Path, got, want)
	}
	var b webhookBody
	if err := json.Unmarshal(raw, &b); err != nil {
		s.t.Errorf("%s: body %.200q: %v", r.URL.Path, raw, err)
		return
	}
	s.mu.Lock()
	s.bodies[r.URL.Path] = append(s.bodies[r.URL.Path], b)
	s.mu.Unlock()
}

func (s *hookSink) got(path string) []webhookBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bodies[path])
}

// TestWebhook is issue 5's acceptance test for webhooks: warden bans 50
// addresses read from its log; the per-event target receives a signed JSON
// ban event for each (address, jail, failures, ban time, log line, whois),
// the digest target one request holding all 50 bans, and at SIGTERM the
// per-event target still gets the jail's stop event.
func TestWebhook(t *testing.T) {
	needFail2ban(t, "filter.d/sshd.conf", "action.d/nftables-multiport.conf")
	ns := newNetns(t)
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	bin := buildWarden(t)
	dir := t.TempDir()

	sink := &hookSink{t: t, secret: "s3cret", bodies: map[string][]webhookBody{}}
	hs := httptest.NewUnstartedServer(sink)
	hs.Listener = listenInNetns(t, ns, "127.0.0.1:0")
	hs.Start()
	t.Cleanup(hs.Close)
	// The whois server answers every query with one network in NL.
	wl := listenInNetns(t, ns, "127.0.0.1:0")
	whoistest.Serve(t, wl, whoistest.Answer("inetnum: 198.51.100.0 - 198.51.100.255\r\nnetname: TEST-NET-2\r\ncountry: NL\r\n"))

	logPath := emptyLog(t, dir)
	jail := fmt.Sprintf("[DEFAULT]\nwhois = %s\n[sshd]\nenabled = true\nfilter = sshd\nlogpath = %s\nignoreself = false\n"+
		"maxretry = 1\nmaxmatches = 1\nfindtime = 10m\nbantime = 1h\naction = nftables-multiport[name=sshd, port=22, protocol=tcp]\n",
		wl.Addr(), logPath)
	f2b := fmt.Sprintf("[Definition]\nlogtarget = STDERR\nloglevel = INFO\n"+
		"[webhook:each]\nurl = %[1]s/each\nsecret = s3cret\n"+
		"[webhook:dig]\nurl = %[1]s/dig\nsecret = s3cret\ndigest = 3s\njails = sshd\n", hs.URL)
	conf := writeConfDir(t, dir, jail, f2b)

	p := launchWarden(t, bin, ns, conf, dir)
	waitLong(t, 10*time.Second, "the jail's start event", func() (bool, string) {
		got := sink.got("/each")
		return len(got) > 0 && got[0].kinds()["start"] == 1, fmt.Sprint(got)
	})

	const bans = 50
	var lines strings.Builder
	for i := 1; i <= bans; i++ {
		lines.WriteString(sshdFailure(fmt.Sprintf("198.51.100.%d", i), i))
	}
	appendLines(t, logPath, lines.String())

	banEvents := func(path string) int {
		n := 0
		for _, b := range sink.got(path) {
			n += b.kinds()["ban"]
		}
		return n
	}
	waitLong(t, 10*time.Second, "50 ban events, one request each", func() (bool, string) {
		n := banEvents("/each")
		return n == bans, fmt.Sprintf("%d ban events", n)
	})
	seen := map[string]bool{}
	for _, b := range sink.got("/each") {
		if len(b.Events) != 1 || b.Digest {
			t.Errorf("a per-event request holds %d events (digest %v)", len(b.Events), b.Digest)
			continue
		}
		e := b.Events[0]
		if e.Kind != "ban" {
			continue
		}
		seen[e.Addr] = true
		if e.Jail != "sshd" || e.Failures != 1 || e.BanTime != 3600 || len(e.Matches) != 1 ||
			!strings.Contains(e.Matches[0], "Failed password for invalid user admin from "+e.Addr+" ") {
			t.Errorf("ban event %+v", e)
		}
		if e.Whois == nil || e.Whois.Country != "NL" {
			t.Errorf("ban event of %s: whois %+v, want the test's whois server's NL", e.Addr, e.Whois)
		}
	}
	if len(seen) != bans {
		t.Errorf("%d distinct addresses in the ban events, want %d", len(seen), bans)
	}

	waitLong(t, 10*time.Second, "the digest", func() (bool, string) {
		got := sink.got("/dig")
		return len(got) > 0, fmt.Sprint(len(got), " digests")
	})
	digs := sink.got("/dig")
	if len(digs) != 1 || !digs[0].Digest || digs[0].kinds()["ban"] != bans {
		t.Errorf("digest target: %d requests, first with %v events (digest %v); want one holding %d bans",
			len(digs), digs[0].kinds(), digs[0].Digest, bans)
	}

	out, err := exec.Command(bin, "client", "-s", p.sock, "status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "each:\tsent 51, queued 0, failed 0, dropped 0") {
		t.Errorf("client status: %v\n%s\nwant the per-event target's 51 requests (start and 50 bans)", err, out)
	}
	p.stop()
	each := sink.got("/each")
	if last := each[len(each)-1]; last.kinds()["stop"] != 1 {
		t.Errorf("last per-event request %+v, want the jail's stop event", last)
	}
	if n := banEvents("/dig"); n != bans {
		t.Errorf("%d bans in all digests, want %d", n, bans)
	}
}
