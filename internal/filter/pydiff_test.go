package filter

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// pyScript runs Python's re over (pattern, subject) pairs and prints, for
// each, null (no match), the compile error, or the span and group spans
// (in code points).
const pyScript = `
import json, re, sys
out = []
for pat, subj, multi in json.load(sys.stdin):
    try:
        r = re.compile(pat, re.M if multi else 0)
    except re.error as e:
        out.append({"err": str(e)}); continue
    m = r.search(subj)
    if m is None:
        out.append(None); continue
    out.append({"span": list(m.span()), "groups": [list(m.span(i)) for i in range(1, r.groups + 1)]})
print(json.dumps(out))
`

// diffCases are patterns in Python's dialect with subjects chosen to
// show where Python and naive RE2 disagree.
var diffCases = []struct {
	pat   string
	subj  []string
	multi bool
}{
	{`a\d+$`, []string{"a12\n", "a12", "a12\nb\n", "a١٢\n"}, false},
	{`^x$`, []string{"x\n", "y\nx\n", "x\ny"}, true},
	{`\s+`, []string{"a\x0bb", "a\x1cb", "a\u00a0b", "a\u2003b", "ab"}, false},
	{`\w+`, []string{"héllo wörld", "_x9", "ǅ"}, false},
	{`(?a)\w+`, []string{"héllo", "x_1"}, false},
	{`\bfoo\b`, []string{"a foo b", "éfoo", "foo_", "(foo)"}, false},
	{`x{,3}y{}z`, []string{"xxxxy{}z", "y{}z"}, false},
	{`a{2,}?`, []string{"aaaa"}, false},
	{`[\]a-c\-]+`, []string{"x]-ab-"}, false},
	{`[^\S\n]+`, []string{"a \t\nb"}, false},
	{`[\W\d]+`, []string{"ab1-2cd"}, false},
	{`(?i)straße`, []string{"STRASSE", "Straße"}, false},
	{`(?x) a b # comment
	  c`, []string{"xabc"}, false},
	{`\_\-\#\ \/\'\:\<`, []string{"_-# /':<"}, false},
	{`(?P<u>\S+)|(?P<v>x)`, []string{"  x"}, false},
	{`a(?=b)`, []string{"ac ab"}, false},
	{`(?<!x)y`, []string{"xy zy"}, false},
	{`(a|b)\1`, []string{"abba"}, false},
	{`(?P<n>[ab])(?P=n)`, []string{"abba"}, false},
	{`^(?P<c>x)?(?(c)y|z)`, []string{"xy", "z", "xz"}, false},
	{`(?>a+)b`, []string{"aaab"}, false},
	{`a++b`, []string{"aaab", "aaa"}, false},
	{`$\n`, []string{"ab\n"}, false},
	{`(?P<t>b$)`, []string{"ab\n"}, false},
	{`\x41\u0042\102\0`, []string{"AB\x42\x00"}, false},
	{`(?s)a.b`, []string{"a\nb"}, false},
	{`a.b`, []string{"a\nb axb"}, false},
	{`\Aab\Z`, []string{"ab\n", "ab"}, false},
	{`a{1001}`, []string{strings.Repeat("a", 1001)}, false},
	{`(?i:A)b`, []string{"ab AB aB Ab"}, false},
	{`[[:alpha:]]+`, []string{"a:b[p]"}, false},
	{`x*`, []string{"\xffx"}, false},
	// Errors Python reports.
	{`a**`, []string{"a"}, false},
	{`(?P<n>a)(?P<n>b)`, []string{"ab"}, false},
	{`\e`, []string{"e"}, false},
	{`a(?i)b`, []string{"ab"}, false},
	{`(`, []string{""}, false},
	{`[a`, []string{""}, false},
	{`[z-a]`, []string{""}, false},
}

func pythonRe(t *testing.T, in [][3]any) []map[string]any {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	js, _ := json.Marshal(in)
	cmd := exec.Command(py, "-c", pyScript)
	cmd.Stdin = strings.NewReader(string(js))
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("python: %v", err)
	}
	var res []map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// runeSpan turns byte offsets in s into code-point offsets (Python's).
func runeSpan(s string, b int) int {
	if b < 0 {
		return -1
	}
	return len([]rune(s[:b]))
}

// TestAgainstPython compares translated regexes with Python's re on the
// same subjects: match or not, span and every group's span.
func TestAgainstPython(t *testing.T) {
	var in [][3]any
	for _, c := range diffCases {
		for _, s := range c.subj {
			in = append(in, [3]any{c.pat, s, c.multi})
		}
	}
	want := pythonRe(t, in)
	k := 0
	for _, c := range diffCases {
		p, cerr := compilePattern(c.pat, "yes", c.multi, 0)
		for _, s := range c.subj {
			w := want[k]
			k++
			if _, isErr := w["err"]; isErr || cerr != nil {
				if !isErr || cerr == nil {
					t.Errorf("%q: compile error mismatch: python %v, ours %v", c.pat, w["err"], cerr)
				}
				continue
			}
			loc, err := p.find([]byte(s), isASCII([]byte(s)), nil)
			if err != nil {
				t.Errorf("%q on %q: %v", c.pat, s, err)
				continue
			}
			if (loc == nil) != (w == nil) {
				t.Errorf("%q on %q: match %v, python %v", c.pat, s, loc != nil, w != nil)
				continue
			}
			if loc == nil {
				continue
			}
			got := []any{float64(runeSpan(s, loc[0])), float64(runeSpan(s, loc[1]))}
			sp := w["span"].([]any)
			// A final '$' is run as "\n?\z", so the overall match may take
			// the final newline; groups and matched lines are unaffected.
			if strings.Contains(c.pat, "$") && got[1] == sp[1].(float64)+1 && strings.HasSuffix(s, "\n") {
				got[1] = sp[1]
			}
			if got[0] != sp[0] || got[1] != sp[1] {
				t.Errorf("%q on %q: span %v, python %v", c.pat, s, got, sp)
			}
			for i, g := range w["groups"].([]any) {
				gs := g.([]any)
				a, b := runeSpan(s, loc[2*i+2]), runeSpan(s, loc[2*i+3])
				if float64(a) != gs[0] || float64(b) != gs[1] {
					t.Errorf("%q on %q: group %d [%d %d], python %v", c.pat, s, i+1, a, b, gs)
				}
			}
		}
	}
}
