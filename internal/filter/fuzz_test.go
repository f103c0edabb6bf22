package filter

import (
	"regexp"
	"strings"
	"testing"
)

// fuzzSeeds are Python regexes chosen to cover the translator's paths.
var fuzzSeeds = []string{
	`^Failed \S+ for (?P<cond_inv>invalid user )?(?P<user>\S+|(?(cond_inv)(?:(?! from ).)*?|[^:]+)) from <HOST>(?(cond_inv): |$)`,
	`^<F-MLFID>\S+</F-MLFID> <F-CONTENT>.+</F-CONTENT>$`,
	`^login failed for <F-USER>.*?</F-USER> from <HOST>( port \d+)?\s*$`,
	`(?i)^auth(?:entication)? (?:failure|error)`,
	`(?x) ^ a \  b [ ]c # comment`,
	`(?s)a.b`, `(?m)^x$`, `(?a)\w+\b`, `\bword\B`,
	`[\]\-a-z\d\s]`, `[^\W_]`, `[]]`, `[^]]`, `[[:digit:]]`, `[a-]`, `[-a]`, `[\b]`,
	`x{,3}`, `x{2,}`, `x{}`, `x{a}`, `x{3}?`, `x*+`, `(?>ab|a)c`,
	`(a)(?P<b>b)\1(?P=b)`, `(?(1)a|b)(x)`, `(?<=ab)c`, `(?<!a)b`, `(?=x)`, `(?!x)`,
	`\x41\u00e9\U0001F600\101\0\n\t\a\f\v\\`, `\_\-\#\ \/\'\"\:\<\>\@\%`,
	`$`, `a$|b$`, `(a$)`, `a$\n`, `\Aa\Z`, `(?#comment)x`,
	`<SKIPLINES>`, `<F-ID/> <F-PORT/> <CIDR> <SUBNET> <IP4> <IP6> <DNS> <ADDR>`,
	`<F-ALT_USER>\S+</F-ALT_USER> <F-USER>\S*</F-USER>`, `((?i)x)`, `(?:(?i)x)`,
	`a**`, `(`, `)`, `[`, `\`, `(?P<>x)`, `(?P<a-b>x)`, `x{99999999999}`, `a{1001}`,
}

// FuzzTranslate checks the translator never panics, and that whenever it
// calls a regex Go-exact, Go's regexp accepts the result.
func FuzzTranslate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, py string) {
		if len(py) > 2000 {
			return
		}
		for _, ascii := range []bool{true, false} {
			tr, err := translate(py, transOpts{target: targetGo, asciiInput: ascii})
			if err != nil {
				continue
			}
			if _, err := regexp.Compile(tr.expr); err != nil && len(tr.reasons) == 0 &&
				!strings.Contains(err.Error(), "too large") && !strings.Contains(err.Error(), "repetition") {
				t.Errorf("%q → %q: Go refuses: %v", py, tr.expr, err)
			}
			if _, err := translate(py, transOpts{target: targetBT, asciiInput: ascii}); err != nil {
				t.Errorf("%q: regexp2 translation fails where Go's did not: %v", py, err)
			}
		}
		p, err := compilePattern(py, "yes", false, 0)
		if err == nil {
			_, _ = p.find([]byte("x "+py+" 192.0.2.1\n"), false, nil)
		}
	})
}

// FuzzProcess feeds arbitrary lines (binary, invalid UTF-8, huge) to a
// filter using prefregex, content, mlfid and backtracking regexes.
func FuzzProcess(f *testing.F) {
	for _, s := range []string{
		"[1] Failed password for root from 192.0.2.1 port 22 ssh2",
		"[1] Failed password for invalid user a from b from 2001:db8::1",
		"[2] \xff\xfe bad from 192.0.2.2", "\x00\x01\x02", "", "[3] Accepted for é from [::1]",
	} {
		f.Add(s)
	}
	flt, err := Compile(Definition{
		PrefRegex: `^<F-MLFID>\[\d+\]</F-MLFID> <F-CONTENT>.+</F-CONTENT>$`,
		FailRegex: []string{
			`^Failed \S+ for (?P<cond_inv>invalid user )?<F-USER>(?(cond_inv)(?:(?! from ).)*?|\S+)</F-USER> from <HOST>`,
			`^\W* bad from <HOST>$`,
			`^<F-MLFFORGET><F-MLFGAINED>Accepted</F-MLFGAINED></F-MLFFORGET> for <F-USER>\w+</F-USER> from <HOST>`,
		},
		IgnoreRegex: []string{`\bignored\b`},
	}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		// The filter keeps multi-line state across inputs (as in a log),
		// so a failure's host may come from an earlier line of its mlfid.
		res := flt.Process(line)
		for _, fl := range res.Failures {
			if fl.ID == "" || fl.Host == "" {
				t.Errorf("%q: failure without id or host: %+v", line, fl)
			}
			// an undated line borrows the previous date text, so the
			// stored line may carry a prefix
			if len(fl.Lines) == 0 || !strings.HasSuffix(fl.Lines[len(fl.Lines)-1], line) {
				t.Errorf("%q: failure lines %q do not end with the line", line, fl.Lines)
			}
		}
	})
}
