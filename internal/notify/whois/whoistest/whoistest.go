// Package whoistest runs whois servers for tests: a listener that reads one
// query line per connection and answers it, on loopback or on a listener
// the test opened elsewhere (inside a network namespace).
package whoistest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is a running test whois server.
type Server struct {
	ln      net.Listener
	queries atomic.Int64
}

// Serve answers connections on ln until the test ends: it reads the query
// line (line end removed), counts it and hands it to handle with the
// connection, which is closed when handle returns. At the end of the test
// the listener and any connection still open are closed (so a handler that
// never answers ends too) and the handlers are waited for.
func Serve(tb testing.TB, ln net.Listener, handle func(query string, c net.Conn)) *Server {
	tb.Helper()
	s := &Server{ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					c.Close()
					mu.Lock()
					delete(open, c)
					mu.Unlock()
				}()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				s.queries.Add(1)
				handle(strings.TrimRight(line, "\r\n"), c)
			})
		}
	})
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// Answer returns a handler writing the same text to every query.
func Answer(text string) func(string, net.Conn) {
	return func(_ string, c net.Conn) { _, _ = io.WriteString(c, text) }
}

// Start serves answer to every query on a new loopback listener.
func Start(tb testing.TB, answer string) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return Serve(tb, ln, Answer(answer))
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Queries counts the queries read so far.
func (s *Server) Queries() int64 { return s.queries.Load() }
