package filter

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTranslate pins the Go and regexp2 output for a few patterns (ASCII
// subjects) and which need the backtracking engine.
func TestTranslate(t *testing.T) {
	cases := []struct {
		py, goExpr, btExpr string
		backtrack          bool
	}{
		{py: `a\d+$`, goExpr: `a[0-9]+(?:\n?\z)`, btExpr: `a[0-9]+$`},
		{py: `^x\Z`, goExpr: `^x\z`, btExpr: `^x\z`},
		{py: `\s`, goExpr: `[\x09-\x0d\x1c-\x20]`},
		{py: `(?a)\s`, goExpr: `[\x09-\x0d\x20]`},
		{py: `\w\W`, goExpr: `[0-9A-Z\x5fa-z][^0-9A-Z\x5fa-z]`},
		{py: `x{,3}y{}z{2,}`, goExpr: `x{0,3}y\{\}z{2,}`},
		{py: `a{2`, goExpr: `a\{2`},
		{py: `\_\-\#\ \/\'`, goExpr: `_-\# /'`},
		{py: `[\]a-c\-]`, goExpr: `[\x2d\x5da-c]`},
		{py: `[]a]`, goExpr: `[\x5da]`},
		{py: `[^]]`, goExpr: `[^\x5d]`},
		{py: `[[:alpha:]]`, goExpr: `[\x3a\x5bahlp]\]`},
		{py: `(?i)ab`, goExpr: `(?i)ab`},
		{py: `a(?i:b)(?-i:c)`, goExpr: `a(?i:b)(?:c)`},
		{py: `(?x) a b  # comment`, goExpr: `ab`},
		{py: `(?s).`, goExpr: `(?s:.)`},
		{py: `(?m)^a$`, goExpr: `(?m:^)a(?m:$)`},
		{py: `(?P<n>a)(?:b)(c)`, goExpr: `(a)(?:b)(c)`, btExpr: `(?<g1>a)(?:b)(?<g2>c)`},
		{py: `(?#note)a`, goExpr: `a`},
		{py: `a(?=b)`, backtrack: true, btExpr: `a(?=b)`},
		{py: `(?<!x)y`, backtrack: true, btExpr: `(?<!x)y`},
		{py: `(a)\1`, backtrack: true, btExpr: `(?<g1>a)\k<g1>`},
		{py: `(?P<n>a)(?P=n)`, backtrack: true, btExpr: `(?<g1>a)\k<g1>`},
		{py: `(?P<c>x)?(?(c)y|z)`, backtrack: true, btExpr: `(?<g1>x)?(?(g1)y|z)`},
		{py: `(?>a+)`, backtrack: true, btExpr: `(?>a+)`},
		{py: `a*+`, backtrack: true, btExpr: `(?>a*)`},
		{py: `a{1001}`, backtrack: true},
		{py: `$\n`, backtrack: true, btExpr: `$\x0a`},
		{py: `(b$)`, backtrack: true, btExpr: `(?<g1>b$)`},
		{py: `\x41\u00e9\101\0`, goExpr: `A\xe9A\x00`},
	}
	for _, c := range cases {
		tr, err := translate(c.py, transOpts{target: targetGo, asciiInput: true})
		if err != nil {
			t.Errorf("%q: %v", c.py, err)
			continue
		}
		if got := len(tr.reasons) > 0; got != c.backtrack {
			t.Errorf("%q: backtrack=%v (%v), want %v", c.py, got, tr.reasons, c.backtrack)
		}
		if c.goExpr != "" && tr.expr != c.goExpr {
			t.Errorf("%q: go %q, want %q", c.py, tr.expr, c.goExpr)
		}
		if !c.backtrack {
			if _, err := regexp.Compile(tr.expr); err != nil {
				t.Errorf("%q: Go rejects %q: %v", c.py, tr.expr, err)
			}
		}
		if c.btExpr != "" {
			bt, err := translate(c.py, transOpts{target: targetBT, asciiInput: true})
			if err != nil || bt.expr != c.btExpr {
				t.Errorf("%q: regexp2 %q (%v), want %q", c.py, bt.expr, err, c.btExpr)
			}
		}
	}
}

// TestTranslateErrors checks patterns Python refuses are refused, with
// Python's reason.
func TestTranslateErrors(t *testing.T) {
	cases := []struct{ py, msg string }{
		{`a**`, "multiple repeat"},
		{`*a`, "nothing to repeat"},
		{`^*`, "nothing to repeat"},
		{`(?P<n>a)(?P<n>b)`, "redefinition of group name"},
		{`\e`, `bad escape \e`},
		{`a\`, "bad escape (end of pattern)"},
		{`a(?i)b`, "global flags not at the start"},
		{`(`, "missing ), unterminated subpattern"},
		{`)`, "unbalanced parenthesis"},
		{`[a`, "unterminated character set"},
		{`[z-a]`, "bad character range"},
		{`[\d-z]`, "bad character range"},
		{`\2(a)`, "invalid group reference"},
		{`(a\1)`, "cannot refer to an open group"},
		{`(?P=x)`, "unknown group name"},
		{`(?P<1a>x)`, "bad character in group name"},
		{`(?<n>x)`, "unknown extension ?<n"},
		{`(?Lx)`, "cannot use 'L' flag"},
		{`(?au)x`, "incompatible"},
		{`a{3,2}`, "min repeat greater than max repeat"},
		{`\x4`, "incomplete escape"},
		{`\777`, "outside of range"},
		{`(?(1)a|b|c)(x)`, "more than two branches"},
	}
	for _, c := range cases {
		_, err := translate(c.py, transOpts{target: targetGo})
		var se *syntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: error %v, want %q", c.py, err, c.msg)
		}
	}
}

// TestExpandTags checks tag expansion: the groups each tag yields and the
// text it leaves alone.
func TestExpandTags(t *testing.T) {
	cases := []struct {
		in, useDNS string
		groups     []string // named groups, in order
		contains   string   // a piece the expansion must hold
	}{
		{in: `from <HOST>`, useDNS: "yes", groups: []string{"ip4", "ip6", "dns"}},
		{in: `from <HOST>`, useDNS: "no", groups: []string{"ip4", "ip6"}},
		{in: `<ADDR>`, groups: []string{"ip4", "ip6"}},
		{in: `<IP4> <IP6> <DNS>`, groups: []string{"ip4", "ip6", "dns"}},
		{in: `<SUBNET>`, groups: []string{"ip4", "ip6", "cidr"}},
		{in: `<ADDR>/<CIDR>`, groups: []string{"ip4", "ip6", "cidr"}},
		{in: `<F-ID/> <F-PORT/>`, groups: []string{"fid", "fport"}},
		{in: `<F-ID>\w+</F-ID> <F-PORT>\d+</F-PORT>`, groups: []string{"fid", "fport"}},
		{in: `<F-USER>.+</F-USER> <F-ALT_USER1>x</F-ALT_USER1>`, groups: []string{"user", "alt_user1"}},
		{in: `<F-MLFID>a</F-MLFID><F-NOFAIL>b</F-NOFAIL><F-MLFFORGET>c</F-MLFFORGET><F-MLFGAINED>d</F-MLFGAINED>`,
			groups: []string{"mlfid", "nofail", "mlfforget", "mlfgained"}},
		{in: `^<F-CONTENT>.+</F-CONTENT>$`, groups: []string{"content"}},
		{in: `a<SKIPLINES>b<SKIPLINES>c`, groups: []string{"skiplines0", "skiplines1"}},
		{in: `<unknown> </F-NEVER> <f-lower>`, contains: `<unknown> </F-NEVER> <f-lower>`},
		{in: `x <F-FOO/> y`, contains: `<F-FOO/>`},
		{in: `((?i)abc)`, contains: `(?i:abc)`},
		{in: `(?:(?i)abc)`, contains: `(?i:abc)`},
	}
	for _, c := range cases {
		useDNS := c.useDNS
		if useDNS == "" {
			useDNS = "yes"
		}
		p, err := compilePattern(c.in, useDNS, false, 0)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		var named []string
		for _, n := range p.names {
			if n != "" {
				named = append(named, n)
			}
		}
		if c.groups != nil && strings.Join(named, ",") != strings.Join(c.groups, ",") {
			t.Errorf("%q: groups %v, want %v", c.in, named, c.groups)
		}
		if c.contains != "" && !strings.Contains(p.expanded, c.contains) {
			t.Errorf("%q: expansion %q lacks %q", c.in, p.expanded, c.contains)
		}
	}
	if _, err := expandTags(`<F-USER>x`, "yes"); err == nil || !strings.Contains(err.Error(), "never closed") {
		t.Errorf("unclosed tag: %v", err)
	}
}

// TestAltName checks fail2ban's alt_ naming: alt_user, alt_user_2 → user.
func TestAltName(t *testing.T) {
	for in, want := range map[string]string{"alt_user": "user", "alt_user_2": "user", "alt_user2": "user2",
		"alt_id": "fid", "alt_port_1": "fport", "user": "", "alt_": ""} {
		got, ok := altName(in)
		if (want == "") == ok || got != want {
			t.Errorf("altName(%q) = %q,%v want %q", in, got, ok, want)
		}
	}
}

// TestFirstBytes checks the first-byte sets of anchored expressions.
func TestFirstBytes(t *testing.T) {
	cases := []struct {
		expr, yes, no string // "" no = not anchored / no set
	}{
		{`^Failed`, "F", "fA "},
		{`^[iI](?:llegal|nvalid)`, "iI", "lnF"},
		{`^(?:a|b?c)`, "abc", "d"},
		{`^(?i)ab`, "aA", "bB"},
		{`(?i)^k`, "kK\xe2", "a"},
		{`^\s*x`, " \tx", "y"},
		{`^.x`, "a\xff", "\n"},
		{`^(?:x*)`, "", ""},
		{`a`, "", ""},
		{`(?m:^)a`, "", ""},
	}
	for _, c := range cases {
		set := firstBytes(c.expr)
		if c.yes == "" {
			if set != nil {
				t.Errorf("%q: want no set", c.expr)
			}
			continue
		}
		if set == nil {
			t.Errorf("%q: no set", c.expr)
			continue
		}
		for _, b := range []byte(unquote(c.yes)) {
			if !set[b] {
				t.Errorf("%q: %q should be a first byte", c.expr, b)
			}
		}
		for _, b := range []byte(unquote(c.no)) {
			if set[b] {
				t.Errorf("%q: %q should not be a first byte", c.expr, b)
			}
		}
	}
}

func unquote(s string) string {
	u, err := strconv.Unquote(`"` + s + `"`)
	if err != nil {
		return s
	}
	return u
}
