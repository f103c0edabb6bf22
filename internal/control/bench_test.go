package control

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
)

// BenchmarkRoundTrip is one request and answer over a real Unix socket.
func BenchmarkRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name  string
		words []string
	}{
		{"ping", []string{"ping"}},
		{"status_jail", []string{"status", "sshd"}},
		{"banip", []string{"set", "sshd", "banip", "192.0.2.1"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			path := startServer(b, newFakeHandler(), ServeOptions{})
			c := dial(b, path)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Call(ctx, bc.words); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode is the server's parse work for one request line.
func BenchmarkDecode(b *testing.B) {
	ips := make([]string, 100)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String()
	}
	line := []byte(`{"version":1,"id":1,"command":["set","sshd","banip","` + strings.Join(ips, `","`) + `"]}` + "\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		fr, err := ReadFrame(bufio.NewReader(bytes.NewReader(line)), DefaultMaxMessage)
		if err != nil {
			b.Fatal(err)
		}
		req, err := DecodeRequest(fr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ParseCommand(req.Command); err != nil {
			b.Fatal(err)
		}
	}
}
