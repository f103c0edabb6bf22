package filter

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestIsASCII puts one byte ≥ 0x80 at every position of buffers of every
// length around the eight-byte words isASCII reads, and compares with a
// plain per-byte check.
func TestIsASCII(t *testing.T) {
	for n := range 20 {
		base := []byte(strings.Repeat("a", n))
		if !isASCII(base) {
			t.Fatalf("len %d: all-ASCII buffer reported as not ASCII", n)
		}
		for i := range n {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				b := append([]byte(nil), base...)
				b[i] = c
				if isASCII(b) {
					t.Errorf("len %d: byte %#x at %d not seen", n, c, i)
				}
			}
			b := append([]byte(nil), base...)
			b[i] = 0x7f
			if !isASCII(b) {
				t.Errorf("len %d: 0x7f at %d taken for non-ASCII", n, i)
			}
		}
	}
	for _, s := range []string{"", "sshd[1]: Failed password", "héllo wörld, long enough to span words", "\x00\x01\x7f"} {
		want := true
		for i := 0; i < len(s); i++ {
			want = want && s[i] < utf8.RuneSelf
		}
		if got := isASCII([]byte(s)); got != want {
			t.Errorf("isASCII(%q) = %v, want %v", s, got, want)
		}
	}
}
