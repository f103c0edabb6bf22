package filter

import (
	"regexp"
	"regexp/syntax"
	"sync"
	"testing"
)

// checkFirstEnd compares firstEnd with Go's regexp on text: the end of
// the leftmost-first match of expr anchored at from (-1: none).
func checkFirstEnd(t *testing.T, expr, text string, from int) {
	t.Helper()
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return
	}
	fe := newFirstEnd(re)
	if fe == nil {
		return
	}
	gore, err := regexp.Compile(`^(?:` + expr + `)`)
	if err != nil {
		return
	}
	buf := []byte(text)
	if from > len(buf) || !isASCII(buf) {
		return
	}
	want := -1
	if loc := gore.FindIndex(buf[from:]); loc != nil {
		want = from + loc[1]
	}
	for pass := range 2 { // the second pass runs on states already built
		got, ok := fe.end(buf, from)
		if !ok {
			return
		}
		if got != want {
			t.Fatalf("pass %d: %q in %q from %d: end %d, regexp %d", pass, expr, text, from, got, want)
		}
	}
}

func TestFirstEnd(t *testing.T) {
	tests := []struct {
		expr, text string
		from       int
	}{
		{`a*`, "aaab", 0},
		{`a*?`, "aaab", 0},
		{`a*?b`, "aaab", 0},
		{`(?:a|ab)(?:c|bcd)`, "abcd", 0},
		{`(?:ab|a)(?:c|bcd)`, "abcd", 0},
		{`\S+\s+`, "srv01 sshd[1]: x", 0},
		{`(?:\S+\s+)?(?:\S+\[\d+\]:\s+)?`, "srv01 sshd[1]: x", 0},
		{`(?:\S+\s+)?(?:\S+\[\d+\]:\s+)?`, "srv01 sshd[1]:", 0},
		{`x+`, "abc", 0},
		{`x*`, "abc", 0},
		{`b+`, "abbbc", 1},
		{`(?:a+)+b`, "aaaaaaaaaaaaaaaaaaaac", 0},
		{`(?i)host\s+`, "HoSt  x", 0},
		{`.*`, "ab\ncd", 0},
		{`(?s).*`, "ab\ncd", 0},
		{`[^.]+\.[^.]+`, "a.b.c", 0},
		{`(?:error|fatal): (?:PAM: )?`, "error: PAM: x", 0},
		{`a$`, "a", 0},
		{`a$`, "ab", 0},
		{`a\z`, "ba", 1},
		{`(?:\s|\n?\z)`, "x", 1},
		{`(?:\s|\n?\z)`, "x\n", 1},
		{`(?:\s|\n?\z)`, "x \n", 1},
		{`x(?:\s|\n?\z)`, "x", 0},
		{`x(?:\n?\z|\s)`, "x\n", 0},
		{`(?:a|ab)(?:\z|c)`, "ab", 0},
		{`(?:a|ab)(?:c|\z)`, "ac", 0},
		{`a*\z`, "aaa", 0},
		{`a*?\z`, "aaa", 0},
		{`a*?(?:\z|a)`, "aaa", 0},
		{`\z`, "", 0},
		{`\z`, "ab", 2},
		{`\z|a`, "ab", 0},
		{`(?:a\z)?`, "ab", 0},
	}
	for _, tt := range tests {
		checkFirstEnd(t, tt.expr, tt.text, tt.from)
	}
	for _, expr := range []string{`^a`, `(?m)a$`, `\bx`, `a\B`, `\Aa`} {
		re, _ := syntax.Parse(expr, syntax.Perl)
		if newFirstEnd(re) != nil {
			t.Errorf("%q: assertions must be refused", expr)
		}
	}
}

// FuzzFirstEnd: for any expression firstEnd accepts, any ASCII text and
// start, the same end as Go's regexp.
func FuzzFirstEnd(f *testing.F) {
	f.Add(`(?:\S+\s+)?(?:\S+\[\d+\]:\s+)?`, "srv01 sshd[1]: x", 0)
	f.Add(`a*?(?:b|bc)+c?`, "abcbcc", 0)
	f.Add(`(?:x|xy|xyz)*?z`, "xyzxyz", 1)
	f.Add(`[a-c]{2,4}?d|a`, "abcabcd", 0)
	f.Add(`x(?:\s|\n?\z)`, "x\n", 0)
	f.Add(`(?:a|ab)(?:\z|c)`, "ab", 0)
	f.Fuzz(func(t *testing.T, expr, text string, from int) {
		if len(expr) > 200 || len(text) > 500 || from < 0 {
			return
		}
		checkFirstEnd(t, expr, text, from)
	})
}

// TestFirstEndShared: one automaton walked by several goroutines at once
// from its first state on, each building states the others read (and
// growing the table under them), gives Go's regexp's end for every text.
// Run with -race, it also checks the automaton's synchronisation.
func TestFirstEndShared(t *testing.T) {
	for _, expr := range []string{
		`(?:\S+\s+)?(?:\S+\[\d+\]:\s+)?(?:error: PAM: )?[aA]uthentication (?:failure|error)`,
		`[a-z]+(?:\d+|[A-Z]+)*x`,
		`(?:a|ab|abc|abcd)*e`,
	} {
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		fe := newFirstEnd(re)
		if fe == nil {
			t.Fatalf("%q: no automaton", expr)
		}
		if fe.clone() != fe {
			t.Fatalf("%q: clone is not shared", expr)
		}
		gore := regexp.MustCompile(`^(?:` + expr + `)`)
		texts := sharedTexts(400)
		want := make([]int, len(texts))
		for i, s := range texts {
			want[i] = -1
			if loc := gore.FindStringIndex(s); loc != nil {
				want[i] = loc[1]
			}
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for k := range texts {
					i := (k*7 + w*101) % len(texts) // each in its own order
					// ASCII texts and a few states: the automaton always tells
					got, ok := fe.end([]byte(texts[i]), 0)
					if !ok || got != want[i] {
						t.Errorf("%q in %q: end %d (ok %v), regexp %d", expr, texts[i], got, ok, want[i])
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

// sharedTexts makes n varied ASCII texts, the same for every call.
func sharedTexts(n int) []string {
	words := []string{"srv01 ", "sshd[123]: ", "error: PAM: ", "authentication failure", "Authentication error",
		"abcd", "ab", "e", "xyz", "Q9", "12", " ", "abcde", "zz", "AB", "x"}
	out := make([]string, n)
	seed := uint32(1)
	for i := range out {
		var b []byte
		for range 1 + i%9 {
			seed = seed*1664525 + 1013904223
			b = append(b, words[seed>>28%uint32(len(words))]...)
		}
		out[i] = string(b)
	}
	return out
}
