package whois

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBigAnswerMemory checks that a 50 MB answer costs about the cap in
// memory, not its size.
func TestBigAnswerMemory(t *testing.T) {
	n := newFakeNet(t)
	chunk := []byte(strings.Repeat("remarks: filler filler filler filler filler filler filler\n", 1024))
	n.serve(iana, func(_ string, c net.Conn) {
		for sent := 0; sent < 50<<20; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	c := n.client(Config{})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := c.Lookup(t.Context(), netip.MustParseAddr("192.0.2.1"))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Raw) > DefaultMaxAnswer+100 {
		t.Errorf("raw is %d bytes", len(r.Raw))
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 16<<20 {
		t.Errorf("lookup of a 50 MB answer allocated %d MB", alloc>>20)
	}
	t.Logf("50 MB answer: %d KiB allocated, raw %d bytes", alloc>>10, len(r.Raw))
}

func BenchmarkSummarize(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "answers", "ripe.txt"))
	if err != nil {
		b.Fatal(err)
	}
	addr := netip.MustParseAddr("198.51.100.7")
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		s, _ := summarize(parseAnswer(cleanRaw(raw)), addr)
		if s.NetName == "" {
			b.Fatal("no netname")
		}
	}
}

func BenchmarkLookupCached(b *testing.B) {
	c := New(Config{Server: "off"})
	c.disabled = false
	c.cache.put(netip.MustParseAddr("198.51.100.7"), netip.MustParsePrefix("198.51.100.0/24"), &Result{Chain: []string{iana}}, c.now().Add(DefaultCacheTTL))
	addr := netip.MustParseAddr("198.51.100.99")
	for b.Loop() {
		if _, err := c.Lookup(b.Context(), addr); err != nil {
			b.Fatal(err)
		}
	}
}
