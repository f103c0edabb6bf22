package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll collects what processReader takes from a line reader: the
// lines it processes (len > 0 or no error) with their cut flags, and the
// final error.
func readAll(next func() ([]byte, bool, error)) (lines []string, err error) {
	for {
		l, cut, err := next()
		if len(l) > 0 || err == nil {
			lines = append(lines, fmt.Sprintf("%q %v", l, cut))
		}
		if err != nil {
			return lines, err
		}
	}
}

// TestLineBlocksAgree: lineBlocks cuts every input into the same lines as
// readLine, with the same truncation, whatever the block size, the
// reader's chunking and the limit; and the lines it handed out stay
// unchanged to the end.
func TestLineBlocksAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var inputs []string
	for _, s := range []string{"", "\n", "a", "a\n", "a\nb", "\n\n\n", "abc\r\nde\n", strings.Repeat("x", 100) + "\ny"} {
		inputs = append(inputs, s)
	}
	for range 200 {
		var sb strings.Builder
		for range rng.IntN(40) {
			sb.WriteString(strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(90)))
			if rng.IntN(10) > 0 {
				sb.WriteByte('\n')
			}
		}
		inputs = append(inputs, sb.String())
	}
	for i, in := range inputs {
		for _, limit := range []int{1, 3, 16, 50, 1 << 20} {
			for _, size := range []int{1, 7, 64, lineBlockSize} {
				br := bufio.NewReaderSize(strings.NewReader(in), 16)
				var buf []byte
				want, werr := readAll(func() ([]byte, bool, error) { return readLine(br, &buf, limit) })
				var r io.Reader = strings.NewReader(in)
				if i%2 == 1 {
					r = iotest.OneByteReader(r)
				}
				lb := newLineBlocks(r)
				lb.size = size
				type handed struct {
					b    []byte
					text string
				}
				var out []handed // what lineBlocks handed out, checked again at the end
				got, gerr := readAll(func() ([]byte, bool, error) {
					l, cut, err := lb.next(limit)
					out = append(out, handed{l, string(l)})
					return l, cut, err
				})
				if werr != gerr || strings.Join(got, "|") != strings.Join(want, "|") {
					t.Fatalf("input %d %q limit %d size %d:\n got %v %v\nwant %v %v", i, in, limit, size, got, gerr, want, werr)
				}
				for k, h := range out {
					if string(h.b) != h.text {
						t.Fatalf("input %d limit %d size %d: line %d changed after later reads: %q, was %q", i, limit, size, k, h.b, h.text)
					}
				}
			}
		}
	}
}
