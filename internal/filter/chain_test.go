package filter

import (
	"reflect"
	"regexp"
	"testing"
)

// checkChain compares the chain's answer for expr on text with Go's
// regexp whenever the chain gives one; it reports whether it did.
func checkChain(t *testing.T, expr, text string) bool {
	t.Helper()
	re, err := regexp.Compile(expr)
	if err != nil {
		return false
	}
	return checkChainRe(t, re, newChain(expr), text)
}

// checkChainRe is checkChain with the expression compiled.
func checkChainRe(t *testing.T, re *regexp.Regexp, c *chain, text string) bool {
	t.Helper()
	if c == nil || !isASCII([]byte(text)) {
		return false
	}
	got, ok := c.find([]byte(text))
	if !ok {
		return false
	}
	if want := re.FindSubmatchIndex([]byte(text)); !reflect.DeepEqual(got, want) {
		t.Fatalf("chain %q on %q: %v, FindSubmatchIndex %v", re, text, got, want)
	}
	return true
}

func TestChain(t *testing.T) {
	const host = `(?:\[?(?:(?:::f{4,6}:)?([0-9]{1,3}(?:\.[0-9]{1,3}){3})|((?:[0-9A-Fa-f]{1,4}::?|::){1,7}(?:[0-9A-Fa-f]{1,4}|:)))\]?|([\-.0-9A-Z^_a-z]*[0-9A-Z_a-z]))`
	for _, tc := range []struct {
		expr, text string
		ok         bool // the chain answers (it must, for these shapes)
	}{
		// a lazy user before " from ": the merged segment with a literal
		{`^[Ii](?:llegal|nvalid) user (.*?) from ` + host + `(?: port [0-9]+)?\s*(?:\n?\z)`, "Invalid user oracle from 203.0.113.8 port 40000\n", true},
		{`^[Ii](?:llegal|nvalid) user (.*?) from ` + host + `(?: port [0-9]+)?\s*(?:\n?\z)`, "Invalid user a from b from 2001:db8::1 port 1\n", false},
		{`^[Ii](?:llegal|nvalid) user (.*?) from ` + host + `(?: port [0-9]+)?\s*(?:\n?\z)`, "Invalid user x from [::ffff:1.2.3.4]\n", true},
		{`^[Ii](?:llegal|nvalid) user (.*?) from ` + host + `(?: port [0-9]+)?\s*(?:\n?\z)`, "Invalid user x from example.com port 22", true},
		// groups inside groups, a group of groups, an optional group
		{`^Failed (?:(publickey)|\S+) for (invalid user )?((\S+)) from ` + host + `(?: port [0-9]+)?(?: ssh[0-9]*)?(?:: )`, "Failed password for invalid user admin from 203.0.113.7 port 52113 ssh2: ", true},
		{`^(((Connection (?:closed|reset)|Disconnected))) (?:by|from)(?: (?:invalid|authenticating) user (\S+|.*?))? ` + host + `(?: port [0-9]+)?(?:\n?\z)`, "Connection closed by authenticating user root 1.2.3.4 port 22\n", true},
		{`^(a)?(b+)c`, "bbc", true},
		{`^x(a*)(b*)`, "xaab", true},
		// the run after a segment does not match where its own first match
		// ends and no merge is possible: regexp must be asked
		{`^(a*)(ab)`, "aab", false},
		// a different ending: not the chain's business to say no
		{`^(a+)b(?:\n?\z)`, "aabx\n", false},
		{`^(a+)b(?:\n?\z)`, "aab\n\n", false},
		{`^(a+)b(?:\n?\z)`, "aab\n", true},
		{`^(a+)b(?:\n?\z)`, "aab", true},
	} {
		if got := checkChain(t, tc.expr, tc.text); got != tc.ok {
			t.Errorf("chain %q on %q: answered %v, want %v", tc.expr, tc.text, got, tc.ok)
		}
	}
	for _, expr := range []string{`a(b)`, `^(a)\b(b)`, `^(a)$`, `^(?:(a)|b)\z`} {
		if newChain(expr) != nil {
			t.Errorf("newChain(%q): a chain for a shape it cannot walk", expr)
		}
	}
}

// TestChainSSHD: the chain serves the lines of an sshd flood (the
// conditional failregex's parts) and the ordinary failregexes.
func TestChainSSHD(t *testing.T) {
	f, err := Compile(f2bDefinition(t, "sshd", map[string]string{"mode": "aggressive"}), Options{Dates: noDates{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"Failed password for invalid user admin from 203.0.113.7 port 52113 ssh2\n",
		"Failed password for root from 2001:db8::7 port 52113 ssh2\n",
		"Invalid user oracle from 203.0.113.8 port 40000\n",
		"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.4  user=root\n",
		"Connection closed by authenticating user root 192.0.2.1 port 22 [preauth]\n",
	} {
		served := false
		for _, p := range f.fail {
			v := p.ascii
			if v.parts == nil && v.re != nil && v.bt == nil {
				served = checkChain(t, v.re.String(), line) || served
			}
			for _, cp := range v.parts {
				if cp.dfa != nil {
					if m, ok := cp.dfa.match([]byte(line)); ok && m {
						served = checkChain(t, cp.re.String(), line) || served
						break
					}
				}
			}
		}
		if !served {
			t.Errorf("no failregex's chain answered for %q", line)
		}
	}
}

// checkChains compares, for every failregex of f with a chain, the
// chain's answers with regexp's on every line and on what follows each
// space, colon or bracket in it (where a prefregex's content may start).
func checkChains(t *testing.T, f *Filter, lines []string) {
	t.Helper()
	type pair struct {
		re *regexp.Regexp
		c  *chain
	}
	var ps []pair
	for _, p := range f.fail {
		if v := p.ascii; v != nil {
			if v.chain != nil {
				ps = append(ps, pair{v.re.get(), v.chain})
			}
			for _, cp := range v.parts {
				if cp.chain != nil {
					ps = append(ps, pair{cp.re.get(), cp.chain})
				}
			}
		}
	}
	used := 0
	for _, p := range ps {
		for _, l := range lines {
			for i := 0; i < len(l); i++ {
				if i > 0 && l[i-1] != ' ' && l[i-1] != ':' && l[i-1] != ']' {
					continue
				}
				if checkChainRe(t, p.re, p.c, l[i:]+"\n") {
					used++
				}
			}
		}
	}
	t.Logf("chain answered on %d subjects", used)
}

// FuzzChain: for any expression the chain accepts and any ASCII text, the
// chain's answer, when it gives one, is Go's regexp's.
func FuzzChain(f *testing.F) {
	f.Add(`^(a*)(ab)`, "aab")
	f.Add(`^x(.*?) from (\d+(?:\.\d+){3}|([a-z.]+))(?: port \d+)?\s*(?:\n?\z)`, "x a from b from 1.2.3.4 port 5\n")
	f.Add(`^(?:(p)|\S+) (i )?((\S+)) f (?:\[?(\d+)\]?|(\w+))`, "q i u f [12]")
	f.Add(`^((a|ab)(c|bcd))(d*)`, "abcd")
	f.Fuzz(func(t *testing.T, expr, text string) {
		if len(expr) > 200 || len(text) > 300 {
			return
		}
		checkChain(t, expr, text)
	})
}
