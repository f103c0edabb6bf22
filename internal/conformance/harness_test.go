package conformance

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHarnessSelfCheck replays a sample log of our own whose annotations
// are partly wrong on purpose, and checks the harness reports exactly the
// wrong ones: it must be able to fail.
func TestHarnessSelfCheck(t *testing.T) {
	loc, err := SampleZone()
	if err != nil {
		t.Fatal(err)
	}
	origLocal := time.Local
	time.Local = loc
	t.Cleanup(func() { time.Local = origLocal })
	r := &sampleRun{
		dir: "testdata/harness/logs", source: "test", name: "demo",
		fsys: os.DirFS("testdata/harness"), loc: loc, filters: map[string]*filterInst{},
	}
	if err := r.run(); err != nil {
		t.Fatal(err)
	}
	var failed []string
	passed := 0
	for _, res := range r.results {
		if res.ok {
			passed++
			continue
		}
		failed = append(failed, res.set+":"+strconv.Itoa(res.line))
	}
	sort.Strings(failed)
	// Each wrong line is checked once per options set ({} and strict).
	want := []string{
		":18", ":21", ":24", ":27", ":30", ":32",
		`{"mode": "strict"}:18`, `{"mode": "strict"}:21`, `{"mode": "strict"}:24`,
		`{"mode": "strict"}:27`, `{"mode": "strict"}:30`, `{"mode": "strict"}:32`,
	}
	sort.Strings(want)
	if strings.Join(failed, " ") != strings.Join(want, " ") {
		for _, res := range r.results {
			if !res.ok {
				t.Logf("%s:%d %s", res.set, res.line, res.detail)
			}
		}
		t.Fatalf("failed lines %v, want %v", failed, want)
	}
	// 6 good lines x 2 sets, minus the two constraint-skipped checks.
	if passed != 10 {
		t.Errorf("%d checks passed, want 10", passed)
	}
}
