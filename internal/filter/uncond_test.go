package filter

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// withoutParts returns p as it runs without the rewrite: conditionals
// and look-aheads on regexp2.
func withoutParts(p *pattern) *pattern {
	q := *p
	v := *p.ascii
	v.parts, v.runes = nil, nil
	q.ascii = &v
	return &q
}

// partsAgree checks that p (rewritten into parts) finds what regexp2
// finds on the regex as configured: the same match and groups.
func partsAgree(t testing.TB, p, ref *pattern, subj string) {
	t.Helper()
	b := []byte(subj)
	if !isASCII(b) {
		return
	}
	got, err1 := p.find(b, true, nil)
	want, err2 := ref.find(b, true, nil)
	if err1 != nil || err2 != nil {
		t.Fatalf("%q: errors %v, %v", subj, err1, err2)
	}
	if len(got) > 1 && len(want) > 1 && got[1] == want[1]+1 && want[1] == len(b)-1 && b[want[1]] == '\n' {
		// Go runs Python's final $ as \n?\z: the match may take the
		// final newline (see the package doc), the groups are the same
		got = slices.Clone(got)
		got[1]--
	}
	if !slices.Equal(got, want) {
		t.Errorf("%q on %q:\n got  %v\n want %v (regexp2)", p.source, subj, got, want)
	}
	m1, _ := p.matches(b, true, nil)
	m2, _ := ref.matches(b, true, nil)
	if m1 != m2 {
		t.Errorf("%q on %q: matches %v, regexp2 %v", p.source, subj, m1, m2)
	}
}

// condSources are regexes with conditionals the rewrite takes (sshd's
// forms, written out) or must refuse.
var condSources = []struct {
	src     string
	rewrite bool
}{
	{`^Failed \S+ for (?P<cond_inv>invalid user )?<F-USER>(?P<cond_user>\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)</F-USER> from <HOST>(?: port \d+)?(?(cond_user): |(?:(?:(?! from ).)*)$)`, true},
	{`^Failed publickey for invalid user <F-USER>(?P<cond_user>\S+)|(?:(?! from ).)*?</F-USER> from <HOST>(?(cond_user): |(?:(?:(?! from ).)*)$)`, true},
	{`^(?P<a>x )??(?P<u>\S+|(?(a)y|z)) on (?P<h>\w+)(?(a)!|$)`, true},
	{`^(?:(?P<w>\w+)|\S+) (?P<a>x)?(?(a)y|z)$`, true},
	// refused: no anchor, a prefix of several possible lengths, look-behind,
	// an unnamed group
	{`Failed (?P<a>x )?(?(a)y|z)`, false},
	{`^\S* ?(?P<a>x )?(?(a)y|z)`, false},
	{`^(?P<a>x )?(?<=x )(?(a)y|z)`, false},
	{`^(a)?(?(1)b|c)`, false},
}

// condSubjects are made to take every branch of condSources and of sshd.
func condSubjects() []string {
	base := []string{
		"Failed password for root from 192.0.2.7 port 22 ssh2",
		"Failed password for invalid user admin from 192.0.2.7 port 22 ssh2",
		"Failed password for invalid user  from 192.0.2.7 port 22 ssh2",
		"Failed password for invalid user a b c from 192.0.2.7 port 22",
		"Failed password for invalid user x from y from 192.0.2.7 port 22",
		"Failed password for invalid user x fromfrom 192.0.2.7 port 22",
		"Failed password for invalid user from from 192.0.2.7 port 22",
		"Failed password for invalid user x  from  from 192.0.2.7",
		"Failed publickey for root from 192.0.2.7 port 22 ssh2: RSA SHA256:abc",
		"Failed publickey for invalid user git from 2001:db8::1 port 22 ssh2: ED25519 SHA256:x",
		"Failed publickey for invalid user a from b from 2001:db8::1 port 22 ssh2",
		"Failed none for invalid user from 192.0.2.7 port 22 ssh2 from 192.0.2.8",
		"Failed keyboard-interactive/pam for root from host.example.org port 1 ssh2",
		"Failed password for root from 192.0.2.7 port 22 ssh2 extra from text",
		"Failed password for root from 192.0.2.7 port 22 ssh2 fro",
		"Failed password for root from 192.0.2.7 port 22 ssh2 from",
		"Failed password for root from 192.0.2.7 port 22 ssh2 from ",
		"Failed password for a:b from 192.0.2.7 port 22 ssh2",
		"Failed password for invalid user a:b from 192.0.2.7 on eth0 port 22 ssh2: x",
		"Failed password for root from [192.0.2.7] port 22 ssh2\n",
		"Failed password for root from 192.0.2.7 port 22 ssh2\nnext",
		"x y on host!", "x y on host", "z on host", "zz on host", "y on h!", "x z on h",
		"w x y", "w z", "w xy", "- z", "w- xz", "",
	}
	var out []string
	for _, s := range base {
		out = append(out, s)
		for i := 0; i < len(s); i++ {
			if s[i] == ' ' {
				out = append(out, s[:i], s[:i]+" from ", s[:i]+" from"+s[i:], s[:i]+": "+s[i+1:])
			}
		}
	}
	return out
}

func TestUnconditional(t *testing.T) {
	subjects := condSubjects()
	for _, c := range condSources {
		p, err := compilePattern(c.src, "yes", false, 0)
		if err != nil {
			t.Fatalf("%q: %v", c.src, err)
		}
		if got := p.ascii.parts != nil; got != c.rewrite {
			srcs, _ := unconditional(p.expanded, false)
			t.Errorf("%q: rewritten %v, want %v (%q)", c.src, got, c.rewrite, srcs)
			continue
		}
		if !c.rewrite {
			continue
		}
		if eng, _ := p.engine(); eng != EngineGo {
			t.Errorf("%q: engine %s", c.src, eng)
		}
		ref := withoutParts(p)
		for _, s := range subjects {
			partsAgree(t, p, ref, s)
		}
	}
	// MULTILINE changes $: no rewrite
	if _, ok := unconditional(condSources[0].src, true); ok {
		t.Error("rewritten under MULTILINE")
	}
}

// TestUnconditionalSSHD runs the rewritten regexes of fail2ban's own
// filters with conditionals over their sample logs' messages and over
// variations of them, against regexp2 on the regexes as configured.
func TestUnconditionalSSHD(t *testing.T) {
	var msgs []string
	for _, name := range []string{"sshd", "lighttpd-auth"} {
		f, err := os.Open(filepath.Join(f2bLogDir, name))
		if err != nil {
			t.Skipf("fail2ban's sample logs: %v", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "#") {
				continue
			}
			// the content a prefregex leaves: from the message on
			for _, k := range []string{"Failed ", "(http_auth", "(mod_auth", "http_auth", "mod_auth"} {
				if i := strings.Index(l, k); i >= 0 {
					msgs = append(msgs, l[i:], l[i:]+" from 192.0.2.1", l[i:]+": x")
					break
				}
			}
		}
		f.Close()
	}
	msgs = append(msgs, condSubjects()...)
	rewritten := 0
	for _, filter := range []struct{ name, mode string }{{"sshd", "normal"}, {"sshd", "ddos"}, {"sshd", "extra"}, {"sshd", "aggressive"}, {"lighttpd-auth", ""}} {
		opts := map[string]string{}
		if filter.mode != "" {
			opts["mode"] = filter.mode
		}
		def := f2bDefinition(t, filter.name, opts)
		for _, src := range def.FailRegex {
			p, err := compilePattern(src, "warn", false, 0)
			if err != nil {
				t.Fatal(err)
			}
			if p.ascii.parts == nil {
				continue
			}
			rewritten++
			ref := withoutParts(p)
			for _, s := range msgs {
				partsAgree(t, p, ref, s)
			}
		}
	}
	if rewritten == 0 {
		t.Error("no stock regex was rewritten")
	}
}

// FuzzUnconditional compares the rewritten regexes with regexp2 on any
// ASCII subject.
func FuzzUnconditional(f *testing.F) {
	for _, s := range condSubjects()[:40] {
		f.Add(s)
	}
	var pats, refs []*pattern
	for _, c := range condSources {
		if !c.rewrite {
			continue
		}
		p, err := compilePattern(c.src, "yes", false, 0)
		if err != nil || p.ascii.parts == nil {
			f.Fatalf("%q: %v", c.src, err)
		}
		pats, refs = append(pats, p), append(refs, withoutParts(p))
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 300 {
			return
		}
		for i, p := range pats {
			partsAgree(t, p, refs[i], s)
		}
	})
}
