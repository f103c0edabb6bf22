package whoistest

import (
	"bufio"
	"io"
	"net"
	"testing"
)

func ask(t *testing.T, addr, query string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, query); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStartAnswersAndCounts(t *testing.T) {
	s := Start(t, "country: NL\n")
	for i, q := range []string{"192.0.2.1\r\n", "192.0.2.2\n"} {
		if got := ask(t, s.Addr(), q); got != "country: NL\n" {
			t.Errorf("answer %q", got)
		}
		if n := s.Queries(); n != int64(i+1) {
			t.Errorf("%d queries counted, want %d", n, i+1)
		}
	}
}

func TestServeHandsTheQueryOver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := Serve(t, ln, func(q string, c net.Conn) { _, _ = io.WriteString(c, "<"+q+">") })
	if got := ask(t, s.Addr(), "-B 192.0.2.9\r\n"); got != "<-B 192.0.2.9>" {
		t.Errorf("answer %q, want the query without its line end", got)
	}
}
