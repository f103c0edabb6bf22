package whois

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"warden/internal/notify/whois/whoistest"
)

const (
	iana   = "whois.iana.org:43"
	ripe   = "whois.ripe.net:43"
	arin   = "whois.arin.net:43"
	apnic  = "whois.apnic.net:43"
	lacnic = "whois.lacnic.net:43"
	afr    = "whois.afrinic.net:43"
)

func TestLookupChains(t *testing.T) {
	tests := []struct {
		name    string
		server  string
		addr    string
		answers map[string]map[string]string // server → query → file
		want    Summary
		chain   []string
		rawFile string
	}{
		{
			name: "iana to ripe",
			addr: "198.51.100.7",
			answers: map[string]map[string]string{
				iana: {"198.51.100.7": "iana-ripe.txt"},
				ripe: {"198.51.100.7": "ripe.txt"},
			},
			want: Summary{NetName: "EXAMPLE-HOSTING-NET", Country: "NL", Org: "Example Hosting B.V.", AS: "AS64500",
				Abuse: "abuse@hosting.example", CIDR: "198.51.100.0/24", Server: ripe},
			chain:   []string{iana, ripe},
			rawFile: "ripe.txt",
		},
		{
			name: "iana to arin, ReferralServer to afrinic",
			addr: "192.0.2.10",
			answers: map[string]map[string]string{
				iana: {"192.0.2.10": "iana-arin.txt"},
				arin: {"n + 192.0.2.10": "arin-referral.txt"},
				afr:  {"192.0.2.10": "afrinic.txt"},
			},
			want: Summary{NetName: "SAVANNA-NET-1", Country: "KE", Org: "Savanna Telecom customer pool", AS: "AS64501",
				Abuse: "noc@savanna.example", CIDR: "192.0.2.0/26", Server: afr},
			chain:   []string{iana, arin, afr},
			rawFile: "afrinic.txt",
		},
		{
			name: "arin reassignment, rwhois referral skipped",
			addr: "192.0.2.200",
			answers: map[string]map[string]string{
				iana: {"192.0.2.200": "iana-arin.txt"},
				arin: {"n + 192.0.2.200": "arin-two-nets.txt"},
			},
			want: Summary{NetName: "BCE-CUST-DINER", Country: "US", Org: "Joe's Diner", AS: "AS64496",
				Abuse: "abuse@bigcable.example", CIDR: "192.0.2.192/27", Server: arin},
			chain:   []string{iana, arin},
			rawFile: "arin-two-nets.txt",
		},
		{
			name: "iana to apnic",
			addr: "203.0.113.9",
			answers: map[string]map[string]string{
				iana:  {"203.0.113.9": "iana-apnic.txt"},
				apnic: {"203.0.113.9": "apnic.txt"},
			},
			want: Summary{NetName: "KIWI-ISP-NZ", Country: "NZ", Org: "Kiwi ISP Limited", AS: "AS64502",
				Abuse: "abuse@kiwi-isp.example", CIDR: "203.0.113.0/24", Server: apnic},
			chain:   []string{iana, apnic},
			rawFile: "apnic.txt",
		},
		{
			name: "iana to lacnic, IPv6, abuse-c handle",
			addr: "2001:db8:1234::5",
			answers: map[string]map[string]string{
				iana:   {"2001:db8:1234::5": "iana-lacnic.txt"},
				lacnic: {"2001:db8:1234::5": "lacnic.txt"},
			},
			want: Summary{Country: "BR", Org: "Provedor Exemplo Ltda", AS: "AS64503",
				Abuse: "abuse@provedor.example", CIDR: "2001:db8:1234::/48", Server: lacnic},
			chain:   []string{iana, lacnic},
			rawFile: "lacnic.txt",
		},
		{
			name:   "configured server without port, lacnic short inetnum",
			server: "whois.lacnic.net",
			addr:   "198.51.101.20",
			answers: map[string]map[string]string{
				lacnic: {"198.51.101.20": "lacnic-short.txt"},
			},
			want: Summary{Country: "UY", Org: "Rede Curta S.A.",
				Abuse: "abuse@redecurta.example", CIDR: "198.51.100.0/22", Server: lacnic},
			chain:   []string{lacnic},
			rawFile: "lacnic-short.txt",
		},
		{
			name: "ipv4-mapped address is asked as IPv4",
			addr: "::ffff:203.0.113.9",
			answers: map[string]map[string]string{
				iana:  {"203.0.113.9": "iana-apnic.txt"},
				apnic: {"203.0.113.9": "apnic.txt"},
			},
			want: Summary{NetName: "KIWI-ISP-NZ", Country: "NZ", Org: "Kiwi ISP Limited", AS: "AS64502",
				Abuse: "abuse@kiwi-isp.example", CIDR: "203.0.113.0/24", Server: apnic},
			chain:   []string{iana, apnic},
			rawFile: "apnic.txt",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNet(t)
			for host, byQuery := range tt.answers {
				n.text(host, byQuery)
			}
			c := n.client(Config{Server: tt.server})
			r, err := c.Lookup(t.Context(), netip.MustParseAddr(tt.addr))
			if err != nil {
				t.Fatal(err)
			}
			if r.Summary != tt.want {
				t.Errorf("summary\n got %+v\nwant %+v", r.Summary, tt.want)
			}
			if !slices.Equal(r.Chain, tt.chain) {
				t.Errorf("chain = %q, want %q", r.Chain, tt.chain)
			}
			want, _ := os.ReadFile(filepath.Join("testdata", "answers", tt.rawFile))
			if r.Raw != string(want) {
				t.Errorf("raw is not the last answer:\n%s", r.Raw)
			}
			if r.Addr != netip.MustParseAddr(tt.addr).Unmap() {
				t.Errorf("addr = %v", r.Addr)
			}
			// Every server was asked exactly once, with its own query form.
			for host, byQuery := range tt.answers {
				if got := n.queries(host); len(got) != 1 || byQuery[got[0]] == "" {
					t.Errorf("%s was asked %q", host, got)
				}
			}
		})
	}
}

// slowAnswer writes answer after d, or gives up when the client leaves.
func slowAnswer(d time.Duration, answer string) func(string, net.Conn) {
	return func(_ string, c net.Conn) {
		time.Sleep(d)
		_, _ = c.Write([]byte(answer))
	}
}

// silent never answers; it returns when the client closes the connection.
func silent(_ string, c net.Conn) { _, _ = io.Copy(io.Discard, c) }

func TestHostileAnswers(t *testing.T) {
	const addr = "198.51.100.7"
	big := func(_ string, c net.Conn) {
		_, _ = c.Write([]byte("inetnum: 198.51.100.0 - 198.51.100.255\nnetname: BIG-NET\n"))
		chunk := []byte(strings.Repeat("remarks:        padding padding padding padding padding padding\n", 1024))
		for sent := 0; sent < 50<<20; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}
	tests := []struct {
		name   string
		setup  func(n *fakeNet)
		cfg    Config
		maxDur time.Duration
		check  func(t *testing.T, r *Result, err error)
	}{
		{
			name: "tilde escapes are plain data",
			setup: func(n *fakeNet) {
				n.literal(iana, "inetnum: 198.51.100.0 - 198.51.100.255\nnetname: ~!id\ndescr: ~! touch /tmp/pwned\n~!sh\n")
			},
			check: func(t *testing.T, r *Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if r.Summary.NetName != "~!id" || r.Summary.Org != "~! touch /tmp/pwned" {
					t.Errorf("summary %+v", r.Summary)
				}
				if !strings.Contains(r.Raw, "\n~!sh\n") {
					t.Errorf("raw lost its lines: %q", r.Raw)
				}
			},
		},
		{
			name: "CR LF ESC and bidi characters never reach a field",
			setup: func(n *fakeNet) {
				n.literal(iana, "inetnum: 198.51.100.0 - 198.51.100.255\r\nnetname: NET\rBcc: victim@example.com\r\n"+
					"org-name: Evil\r\nSubject: pwned\r\ncountry: \x1b[2JUS\u202e\x00\r\nabuse-mailbox: a@b\x85c\n")
			},
			check: func(t *testing.T, r *Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				s := r.Summary
				for _, v := range []string{s.NetName, s.Country, s.Org, s.AS, s.Abuse, s.CIDR} {
					for _, c := range v {
						if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
							t.Errorf("field %q holds %U", v, c)
						}
					}
				}
				if s.Org != "Evil" || s.Country != "[2JUS" || s.NetName != "NETBcc: victim@example.com" {
					t.Errorf("summary %+v", s)
				}
				for _, c := range r.Raw {
					if c != '\n' && c != '\t' && (unicode.IsControl(c) || unicode.Is(unicode.Cf, c)) {
						t.Errorf("raw holds %U", c)
					}
				}
			},
		},
		{
			name: "non-UTF-8 text",
			setup: func(n *fakeNet) {
				n.literal(iana, "inetnum: 198.51.100.0 - 198.51.100.255\nnetname: SOCI\xc9T\xc9\norg-name: Soci\xe9t\xe9 G\xe9n\xe9rale\n")
			},
			check: func(t *testing.T, r *Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if !utf8.ValidString(r.Raw) {
					t.Error("raw is not UTF-8")
				}
				if want := "Soci\uFFFDt\uFFFD G\uFFFDn\uFFFDrale"; r.Summary.Org != want {
					t.Errorf("org = %q, want %q", r.Summary.Org, want)
				}
			},
		},
		{
			name:   "50 MB answer is cut, not buffered",
			setup:  func(n *fakeNet) { n.serve(iana, big) },
			maxDur: 5 * time.Second,
			check: func(t *testing.T, r *Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Raw) > DefaultMaxAnswer+100 {
					t.Errorf("raw is %d bytes", len(r.Raw))
				}
				if !strings.HasSuffix(r.Raw, "% warden: answer cut at 262144 bytes\n") {
					t.Errorf("raw does not say it was cut: %q", r.Raw[len(r.Raw)-80:])
				}
				if r.Summary.NetName != "BIG-NET" {
					t.Errorf("summary %+v", r.Summary)
				}
			},
		},
		{
			name:   "server never answers: query timeout",
			setup:  func(n *fakeNet) { n.serve(iana, silent) },
			cfg:    Config{QueryTimeout: 200 * time.Millisecond},
			maxDur: 2 * time.Second,
			check: func(t *testing.T, r *Result, err error) {
				if !errors.Is(err, context.DeadlineExceeded) || r != nil {
					t.Errorf("got %v, %v; want deadline exceeded", r, err)
				}
			},
		},
		{
			name: "referral never answers: total deadline, partial result",
			setup: func(n *fakeNet) {
				n.text(iana, map[string]string{addr: "iana-ripe.txt"})
				n.serve(ripe, silent)
			},
			cfg:    Config{QueryTimeout: 10 * time.Second, Deadline: 300 * time.Millisecond},
			maxDur: 2 * time.Second,
			check: func(t *testing.T, r *Result, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want deadline exceeded", err)
				}
				if r == nil || r.Summary.Server != iana || !slices.Equal(r.Chain, []string{iana, ripe}) {
					t.Errorf("partial result %+v", r)
				}
			},
		},
		{
			name:  "server closes at once",
			setup: func(n *fakeNet) { n.serve(iana, func(string, net.Conn) {}) },
			check: func(t *testing.T, r *Result, err error) {
				if !errors.Is(err, ErrEmptyAnswer) {
					t.Errorf("err = %v, want ErrEmptyAnswer", err)
				}
			},
		},
		{
			name: "referral loop stops at a server already asked",
			setup: func(n *fakeNet) {
				n.text(iana, map[string]string{addr: "iana-arin.txt"})
				n.literal(arin, "NetRange: 198.51.100.0 - 198.51.100.255\nNetName: LOOPY\nReferralServer: whois://WHOIS.IANA.ORG:43/\n")
			},
			check: func(t *testing.T, r *Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(r.Chain, []string{iana, arin}) || r.Summary.NetName != "LOOPY" {
					t.Errorf("chain %q summary %+v", r.Chain, r.Summary)
				}
			},
		},
		{
			name: "referral chain longer than the hop limit",
			setup: func(n *fakeNet) {
				n.literal(iana, "refer: hop1.example\n")
				for i := 1; i < 8; i++ {
					n.literal("hop"+string(rune('0'+i))+".example", "refer: hop"+string(rune('1'+i))+".example\n")
				}
			},
			check: func(t *testing.T, r *Result, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Chain) != maxHops {
					t.Errorf("chain %q, want %d servers", r.Chain, maxHops)
				}
			},
		},
		{
			name: "malformed referral is not followed",
			setup: func(n *fakeNet) {
				n.literal(iana, "refer: evil host;rm -rf /\nwhois: http://whois.example/\nnetname: STAYS\n")
			},
			check: func(t *testing.T, r *Result, err error) {
				if err != nil || len(r.Chain) != 1 || r.Summary.NetName != "STAYS" {
					t.Errorf("got %+v, %v", r, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNet(t)
			tt.setup(n)
			c := n.client(tt.cfg)
			start := time.Now()
			r, err := c.Lookup(t.Context(), netip.MustParseAddr(addr))
			if d := time.Since(start); tt.maxDur > 0 && d > tt.maxDur {
				t.Errorf("lookup took %v", d)
			}
			tt.check(t, r, err)
		})
	}
}

func TestDisabledAndBadServer(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.1")
	if _, err := New(Config{Server: "off"}).Lookup(t.Context(), addr); !errors.Is(err, ErrDisabled) {
		t.Errorf("off: err = %v", err)
	}
	if _, err := New(Config{Server: "not a host!"}).Lookup(t.Context(), addr); err == nil || !strings.Contains(err.Error(), "not a host!") {
		t.Errorf("bad server: err = %v", err)
	}
	if _, err := New(Config{}).Lookup(t.Context(), netip.Addr{}); err == nil {
		t.Error("invalid address accepted")
	}
}

func TestCache(t *testing.T) {
	n := newFakeNet(t)
	n.text(iana, map[string]string{"198.51.100.7": "iana-ripe.txt", "198.51.100.99": "iana-ripe.txt"})
	n.text(ripe, map[string]string{"198.51.100.7": "ripe.txt"})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := n.client(Config{CacheTTL: time.Hour})
	c.now = func() time.Time { return now }
	lookup := func(a string) *Result {
		t.Helper()
		r, err := c.Lookup(t.Context(), netip.MustParseAddr(a))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := lookup("198.51.100.7")
	lookup("198.51.100.7")
	if q := n.queries(iana); len(q) != 1 {
		t.Fatalf("same address asked %d times", len(q))
	}
	// Another address of the announced /24: served from the cache.
	other := lookup("198.51.100.99")
	if q := n.queries(iana); len(q) != 1 {
		t.Errorf("address of a cached network asked again")
	}
	if other.Addr != netip.MustParseAddr("198.51.100.99") || other.Summary != first.Summary {
		t.Errorf("cached result %+v", other)
	}
	// Outside the network: asked.
	lookup("198.51.101.1")
	if q := n.queries(iana); len(q) != 2 {
		t.Errorf("address outside the network not asked: %q", q)
	}
	// After the TTL: asked again.
	now = now.Add(time.Hour + time.Second)
	lookup("198.51.100.99")
	if q := n.queries(iana); len(q) != 3 {
		t.Errorf("expired entry served: %q", q)
	}
	// A caller cannot change the cached result through its copy.
	r := lookup("198.51.100.99")
	r.Chain[0] = "changed"
	if lookup("198.51.100.99").Chain[0] != iana {
		t.Error("cached chain shared with callers")
	}
}

func TestCacheWideNetworkAndOff(t *testing.T) {
	wide := "inetnum: 198.0.0.0 - 198.255.255.255\nnetname: WHOLE-SLASH-8\n"
	for _, tt := range []struct {
		name string
		ttl  time.Duration
		a, b string
		want int // queries for a then b
	}{
		{"a /8 is not cached for its other addresses", time.Hour, "198.51.100.1", "198.51.100.2", 2},
		{"exact address cached", time.Hour, "198.51.100.1", "198.51.100.1", 1},
		{"negative TTL disables the cache", -1, "198.51.100.1", "198.51.100.1", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNet(t)
			n.literal(iana, wide)
			c := n.client(Config{CacheTTL: tt.ttl})
			for _, a := range []string{tt.a, tt.b} {
				if _, err := c.Lookup(t.Context(), netip.MustParseAddr(a)); err != nil {
					t.Fatal(err)
				}
			}
			if got := len(n.queries(iana)); got != tt.want {
				t.Errorf("%d queries, want %d", got, tt.want)
			}
		})
	}
}

func TestCacheBounded(t *testing.T) {
	c := newCache(16)
	exp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var last netip.Addr
	for i := range 100 {
		last = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		c.put(last, netip.Prefix{}, &Result{}, exp.Add(time.Duration(i)*time.Second))
		if len(c.entries) > 16 {
			t.Fatalf("cache holds %d entries", len(c.entries))
		}
	}
	if _, ok := c.get(last, exp); !ok {
		t.Error("newest entry evicted")
	}
	if _, ok := c.get(netip.AddrFrom4([4]byte{192, 0, 2, 0}), exp); ok {
		t.Error("oldest entry kept")
	}
}

func TestConcurrentLookupsShareOneQuery(t *testing.T) {
	n := newFakeNet(t)
	n.serve(iana, slowAnswer(200*time.Millisecond, "inetnum: 203.0.113.0 - 203.0.113.255\nnetname: SHARED\n"))
	c := n.client(Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			r, err := c.Lookup(t.Context(), netip.MustParseAddr("203.0.113.5"))
			if err == nil && r.Summary.NetName != "SHARED" {
				err = errors.New("wrong summary " + r.Summary.NetName)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if q := n.queries(iana); len(q) != 1 {
		t.Errorf("%d queries for one address", len(q))
	}
}

func TestCallerCancelReturnsAtOnce(t *testing.T) {
	n := newFakeNet(t)
	n.serve(iana, silent)
	c := n.client(Config{Deadline: 5 * time.Second, QueryTimeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Lookup(ctx, netip.MustParseAddr("192.0.2.1"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}

// TestReferralToLocalAddressRefused: with the default dialer the configured
// server may be local (tests, air-gapped sites), but a referral that
// resolves to a loopback address is not dialled.
func TestReferralToLocalAddressRefused(t *testing.T) {
	if _, err := net.DefaultResolver.LookupHost(t.Context(), "localhost"); err != nil {
		t.Skipf("localhost does not resolve here: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The server reads the query before it answers: closing with the
	// query unread would reset the connection under the answer.
	whoistest.Serve(t, ln, whoistest.Answer("netname: FIRST\nrefer: localhost\n"))
	c := New(Config{Server: ln.Addr().String(), QueryTimeout: 2 * time.Second})
	r, err := c.Lookup(t.Context(), netip.MustParseAddr("192.0.2.1"))
	if !errors.Is(err, errNotPublic) {
		t.Errorf("err = %v, want errNotPublic", err)
	}
	if r == nil || r.Summary.NetName != "FIRST" || len(r.Chain) != 2 || r.Chain[1] != "localhost:43" {
		t.Errorf("result %+v", r)
	}
}

func TestPublicOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"192.0.2.1:43": true, "[2001:db8::1]:43": true, "8.8.8.8:43": true,
		"127.0.0.1:43": false, "[::1]:43": false, "10.0.0.1:43": false, "192.168.1.1:43": false,
		"172.16.0.1:43": false, "169.254.1.1:43": false, "[fe80::1]:43": false, "[fc00::1]:43": false,
		"0.0.0.0:43": false, "224.0.0.1:43": false, "[::ffff:127.0.0.1]:43": false, "junk": false,
	} {
		if err := publicOnly("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("publicOnly(%s) = %v", addr, err)
		}
	}
}
