package filter

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/datetime"
)

// Paths of the installed fail2ban, read at test time only.
const (
	f2bConfDir = "/etc/fail2ban"
	f2bLogDir  = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs"
)

// dumpScript resolves one filter with fail2ban's own reader and prints
// the options we need as JSON.
const dumpScript = `
import json, sys
from fail2ban.client.filterreader import FilterReader
r = FilterReader(sys.argv[1], sys.argv[1], json.loads(sys.argv[2]), share_config={}, basedir=sys.argv[3])
if not r.read():
    sys.exit(2)
r.getOptions({})
res = {"failregex": [], "ignoreregex": []}
for c in r.convert():
    if c[0] == "set" and len(c) == 4:
        res[c[2]] = c[3]
    elif c[0] == "multi-set" and c[2] in ("addfailregex", "addignoreregex"):
        res[c[2][3:]] += c[3]
print(json.dumps(res))
`

var (
	f2bMu    sync.Mutex
	f2bCache = map[string]Definition{}
)

// f2bDefinition resolves a stock fail2ban filter with the given filter
// options through fail2ban's own reader (read-only, from /etc/fail2ban).
// Skips when fail2ban is not installed.
func f2bDefinition(tb testing.TB, filterName string, opts map[string]string) Definition {
	tb.Helper()
	if opts == nil {
		opts = map[string]string{}
	}
	js, _ := json.Marshal(opts)
	key := filterName + string(js)
	f2bMu.Lock()
	defer f2bMu.Unlock()
	if d, ok := f2bCache[key]; ok {
		return d
	}
	py := "/usr/bin/python3" // the interpreter fail2ban is installed for
	if _, err := os.Stat(py); err != nil {
		tb.Skip("no /usr/bin/python3")
	}
	out, err := exec.Command(py, "-c", dumpScript, filterName, string(js), f2bConfDir).Output()
	if err != nil {
		tb.Skipf("fail2ban filter reader: %v", err)
	}
	var raw struct {
		PrefRegex   string   `json:"prefregex"`
		FailRegex   []string `json:"failregex"`
		IgnoreRegex []string `json:"ignoreregex"`
		MaxLines    int      `json:"maxlines"`
		DatePattern string   `json:"datepattern"`
	}
	if err := json.Unmarshal(out, &raw); err != nil || len(raw.FailRegex) == 0 {
		tb.Skipf("no failregex for %s (%v): %s", filterName, err, out)
	}
	d := Definition{Name: filterName, PrefRegex: raw.PrefRegex, FailRegex: raw.FailRegex,
		IgnoreRegex: raw.IgnoreRegex, MaxLines: raw.MaxLines, DatePattern: raw.DatePattern, UseDNS: "warn"}
	f2bCache[key] = d
	return d
}

// syslogDates is a test stand-in for the date detector: a syslog stamp at
// the start of the line.
type syslogDates struct{}

var syslogStamp = regexp.MustCompile(`^(?:[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:?\d\d|Z)?)`)

func (syslogDates) Find(line string) (datetime.Match, bool) {
	loc := syslogStamp.FindStringIndex(line)
	if loc == nil {
		return datetime.Match{}, false
	}
	t, err := time.Parse("Jan 2 15:04:05", strings.Join(strings.Fields(line[loc[0]:loc[1]]), " "))
	if err != nil {
		t, _ = time.Parse(time.RFC3339Nano, line[loc[0]:loc[1]])
	}
	return datetime.Match{Time: t.AddDate(2005-t.Year(), 0, 0), Start: loc[0], End: loc[1]}, true
}

// failJSON is an expectation from fail2ban's sample logs.
type failJSON struct {
	Constraint string `json:"constraint"`
	Match      bool   `json:"match"`
	Host       any    `json:"host"`
	User       string `json:"user"`
	Desc       string `json:"desc"`
	Time       string `json:"time"`
}

type sampleLine struct {
	want   *failJSON // nil: no expectation attached
	line   string
	lineNo int
	// sections: the "# filterOptions:" in force (nil: all).
	sections []map[string]string
}

// appliesTo reports whether the line belongs to a filter run with the
// given options.
func (sl sampleLine) appliesTo(opts map[string]string) bool {
	if sl.sections == nil {
		return true
	}
	for _, o := range sl.sections {
		if len(o) == len(opts) {
			same := true
			for k, v := range o {
				if opts[k] != v {
					same = false
				}
			}
			if same {
				return true
			}
		}
	}
	return false
}

// constraintHolds evaluates the few constraint forms the sample logs use;
// ok is false for a form it does not know.
func constraintHolds(c, name, mode string) (holds, ok bool) {
	if c == "" {
		return true, true
	}
	m := regexp.MustCompile(`^(name|opts\.get\('mode'\)) (==|!=) '([^']*)'$`).FindStringSubmatch(strings.TrimSpace(c))
	if m == nil {
		return false, false
	}
	v := name
	if m[1] != "name" {
		v = mode
	}
	return (v == m[3]) == (m[2] == "=="), true
}

// readSample reads a sample log with its "# failJSON:" expectations.
func readSample(tb testing.TB, name string) []sampleLine {
	tb.Helper()
	fh, err := os.Open(filepath.Join(f2bLogDir, name))
	if err != nil {
		tb.Skipf("sample log: %v", err)
	}
	defer fh.Close()
	var lines []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return parseSample(tb, name, lines)
}

// parseSample splits a sample log's lines into log lines and expectations.
func parseSample(tb testing.TB, name string, lines []string) []sampleLine {
	tb.Helper()
	var out []sampleLine
	var pending *failJSON
	var sections []map[string]string
	for i, l := range lines {
		n := i + 1
		if rest, ok := strings.CutPrefix(l, "# failJSON:"); ok {
			var fj failJSON
			if err := json.Unmarshal([]byte(rest), &fj); err != nil {
				tb.Fatalf("%s:%d: %v", name, n, err)
			}
			pending = &fj
			continue
		}
		if rest, ok := strings.CutPrefix(l, "# filterOptions:"); ok {
			var opts []map[string]any
			if err := json.Unmarshal([]byte(rest), &opts); err != nil {
				var one map[string]any
				if err := json.Unmarshal([]byte(rest), &one); err != nil {
					tb.Fatalf("%s:%d: %v", name, n, err)
				}
				opts = []map[string]any{one}
			}
			sections = []map[string]string{}
			for _, o := range opts {
				m := map[string]string{}
				for k, v := range o {
					if k != "test.condition" {
						m[k] = fmt.Sprint(v)
					}
				}
				sections = append(sections, m)
			}
			continue
		}
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		out = append(out, sampleLine{want: pending, line: l, lineNo: n, sections: sections})
		pending = nil
	}
	return out
}
