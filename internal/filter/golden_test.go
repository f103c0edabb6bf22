package filter

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestExplainGolden pins, for a filter of our own regexes, what Explain
// reports: expansion, engine, reasons, Go expression and literals.
// Run with -update after an intended change.
func TestExplainGolden(t *testing.T) {
	def := Definition{
		PrefRegex: `^\S+ (?P<daemon>\w+)\[\d+\]: <F-CONTENT>.+</F-CONTENT>$`,
		FailRegex: []string{
			`^login failed for <F-USER>\S+</F-USER> from <HOST>(?: port \d+)?\s*$`,
			`^token <F-ID/> rejected \(<ADDR>\)`,
			`(?i)^bad (?:request|method) from <SUBNET>`,
			`^user (?P<u>\S+) from <HOST>(?! trusted)`,
			`^(?P<a>\w+) repeated (?P=a) by <ADDR>`,
		},
		IgnoreRegex: []string{`from 192\.0\.2\.\d+ trusted$`},
		UseDNS:      "no",
	}
	f, err := Compile(def, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, in := range f.Explain() {
		fmt.Fprintf(&b, "%s[%d] %s\n", in.Kind, in.Index, in.Source)
		fmt.Fprintf(&b, "  expanded: %s\n", in.Expanded)
		fmt.Fprintf(&b, "  engine:   %s %q\n", in.Engine, in.Reasons)
		fmt.Fprintf(&b, "  go:       %s\n", in.Go)
		fmt.Fprintf(&b, "  literals: %q\n", in.Literals)
	}
	path := filepath.Join("testdata", "explain.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("Explain output differs from %s (run with -update if intended):\n%s", path, b.String())
	}
}
