package defaults

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current tree")

// TestJailTableGolden pins the resolved settings of every default jail, so
// that a change to the defaults shows up as a reviewed diff of
// testdata/jails.golden (regenerate with go test -update).
func TestJailTableGolden(t *testing.T) {
	st := jailStack(t)
	var b strings.Builder
	for _, j := range jailNames(st) {
		fmt.Fprintf(&b, "[%s]\n", j)
		for _, key := range []string{"enabled", "filter", "port", "logpath", "backend", "maxretry", "findtime", "bantime", "action"} {
			v, _ := st.lookup(j, key)
			v, err := st.expand(j, v, 0)
			if err != nil {
				t.Errorf("[%s] %s: %v", j, key, err)
			}
			fmt.Fprintf(&b, "%s = %s\n", key, strings.ReplaceAll(v, "\n", "\n\t"))
		}
		b.WriteString("\n")
	}
	got := b.String()
	golden := filepath.Join("testdata", "jails.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("resolved jails differ from %s (go test -update after review):\n%s", golden, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
