package datetime

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGolden")

// TestGolden runs each testdata/golden/<case>/input.log (with the
// datepattern in <case>/pattern, if any) through one detector, in UTC,
// and compares with <case>/expected.golden. With fail2ban installed the
// same input is also checked against fail2ban itself.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	var cases []diffCase
	for _, dir := range dirs {
		in, err := os.ReadFile(filepath.Join(dir, "input.log"))
		if err != nil {
			t.Fatal(err)
		}
		pattern := ""
		if p, err := os.ReadFile(filepath.Join(dir, "pattern")); err == nil {
			pattern = strings.TrimSpace(string(p))
		}
		lines := strings.Split(strings.TrimSuffix(string(in), "\n"), "\n")
		cases = append(cases, diffCase{Name: dir, Pattern: pattern, TZ: "UTC", Now: float64(testNow.Unix()), Lines: lines})

		d, err := New(Options{Pattern: pattern, Location: time.UTC, Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		for _, line := range lines {
			m, ok := d.Find(line)
			switch {
			case !ok:
				fmt.Fprintf(&out, "-\n")
			case m.Time.IsZero():
				fmt.Fprintf(&out, "%q no time | %s\n", line[m.Start:m.End], m.Template)
			default:
				fmt.Fprintf(&out, "%q %s | %s\n", line[m.Start:m.End], m.Time.UTC().Format(time.RFC3339Nano), m.Template)
			}
		}
		golden := filepath.Join(dir, "expected.golden")
		if *update {
			if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if out.String() != string(want) {
			t.Errorf("%s differs:\n got:\n%s\n want:\n%s", golden, out.String(), want)
		}
	}
	if _, err := os.Stat(f2bPkg + "/server/datedetector.py"); err == nil {
		compareWithFail2ban(t, cases)
	}
}
