package whois

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"warden/internal/notify/whois/whoistest"
)

// fakeNet is a set of whois servers on loopback, one listener each, reached
// through a Dial that maps their public names (whois.ripe.net:43) to the
// listeners.
type fakeNet struct {
	t       *testing.T
	mu      sync.Mutex
	servers map[string]*fakeServer
}

type fakeServer struct {
	ln      net.Listener
	mu      sync.Mutex
	queries []string
}

func newFakeNet(t *testing.T) *fakeNet {
	return &fakeNet{t: t, servers: map[string]*fakeServer{}}
}

// serve starts a server for name (host or host:port) that reads one query
// line and hands it to handle.
func (n *fakeNet) serve(name string, handle func(query string, c net.Conn)) {
	n.t.Helper()
	key, ok := normalizeServer(name)
	if !ok {
		n.t.Fatalf("bad server name %q", name)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.t.Fatal(err)
	}
	s := &fakeServer{ln: ln}
	whoistest.Serve(n.t, ln, func(q string, c net.Conn) {
		s.mu.Lock()
		s.queries = append(s.queries, q)
		s.mu.Unlock()
		handle(q, c)
	})
	n.mu.Lock()
	n.servers[key] = s
	n.mu.Unlock()
}

// text serves files of testdata/answers by query; an unknown query gets a
// "no entries" answer.
func (n *fakeNet) text(name string, byQuery map[string]string) {
	n.t.Helper()
	answers := map[string][]byte{}
	for q, file := range byQuery {
		b, err := os.ReadFile(filepath.Join("testdata", "answers", file))
		if err != nil {
			n.t.Fatal(err)
		}
		answers[q] = b
	}
	n.serve(name, func(q string, c net.Conn) {
		b, ok := answers[q]
		if !ok {
			b = []byte("% no entries found for " + q + "\n")
		}
		_, _ = c.Write(b)
	})
}

// literal serves the same bytes to every query.
func (n *fakeNet) literal(name, answer string) {
	n.serve(name, whoistest.Answer(answer))
}

func (n *fakeNet) queries(name string) []string {
	key, _ := normalizeServer(name)
	n.mu.Lock()
	s := n.servers[key]
	n.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

func (n *fakeNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	s := n.servers[addr]
	n.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("fake dial %s: no such server", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, s.ln.Addr().String())
}

// client returns a Client on this network.
func (n *fakeNet) client(cfg Config) *Client {
	cfg.Dial = n.dial
	return New(cfg)
}
