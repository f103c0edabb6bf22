package filter

import (
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"warden/internal/datetime"
)

// allScript resolves every stock filter that has a sample log (default
// options) with fail2ban's reader, and gives for every line of the log (as
// fail2ban decodes it) the byte span of the date fail2ban's detector finds.
const allScript = `
import json, os, sys
from fail2ban.client.filterreader import FilterReader
from fail2ban.server.datedetector import DateDetector
confdir, logdir = sys.argv[1], sys.argv[2]
res = {}
for name in sorted(os.listdir(logdir)):
    if not os.path.exists(os.path.join(confdir, "filter.d", name + ".conf")):
        continue
    try:
        r = FilterReader(name, name, {}, share_config={}, basedir=confdir)
        if not r.read():
            continue
        r.getOptions({})
        d = {"failregex": [], "ignoreregex": []}
        for c in r.convert():
            if c[2] in ("addfailregex", "addignoreregex"):
                v = c[3] if c[0] == "multi-set" else [c[3]]
                d[c[2][3:]] += v
            elif c[0] == "set" and len(c) == 4:
                d[c[2]] = c[3]
        dd = DateDetector()
        pattern = d.get("datepattern")
        if pattern:
            for p in [p.strip() for p in pattern.split("\n") if p.strip()]:
                dd.appendTemplate(p)
        else:
            dd.addDefaultTemplate()
        rows = []
        with open(os.path.join(logdir, name), encoding="utf-8", errors="replace") as fh:
            for line in fh.read().split("\n"):
                span = None
                if line and not line.startswith("#"):
                    m = dd.matchTime(line)[0]
                    if m:
                        span = [len(line[:m.start(1)].encode()), len(line[:m.end(1)].encode())]
                rows.append([line, span])
        d["rows"] = rows
        res[name] = d
    except Exception as e:
        res[name] = {"error": str(e)}
print(json.dumps(res))
`

// spanDates are date spans computed by fail2ban, by line.
type spanDates map[string][2]int

// sampleFilter is a stock filter as fail2ban resolves it, with the
// annotated rows of its sample log.
type sampleFilter struct {
	Error       string   `json:"error"`
	PrefRegex   string   `json:"prefregex"`
	FailRegex   []string `json:"failregex"`
	IgnoreRegex []string `json:"ignoreregex"`
	MaxLines    int      `json:"maxlines"`
	DatePattern string   `json:"datepattern"`
	Rows        [][2]any `json:"rows"`
}

// stockSamples asks fail2ban (allScript) for every stock filter with its
// sample rows; it returns the filter names sorted. It skips the test when
// fail2ban's Python is not there.
func stockSamples(t *testing.T) ([]string, map[string]sampleFilter) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	out, err := exec.Command("/usr/bin/python3", "-c", allScript, f2bConfDir, f2bLogDir).Output()
	if err != nil {
		t.Skipf("fail2ban reader: %v", err)
	}
	var all map[string]sampleFilter
	if err := json.Unmarshal(out, &all); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, all
}

// TestAllSampleLogs runs every stock filter (default options) over its
// sample log, with dates located by fail2ban's own date detector, and
// checks match/no-match and host of every "# failJSON:" line.
func TestAllSampleLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs every stock filter")
	}
	names, all := stockSamples(t)
	for _, name := range names {
		fd := all[name]
		t.Run(name, func(t *testing.T) {
			if fd.Error != "" || len(fd.FailRegex) == 0 {
				t.Skipf("fail2ban could not resolve it: %s", fd.Error)
			}
			def := Definition{Name: name, PrefRegex: fd.PrefRegex, FailRegex: fd.FailRegex, IgnoreRegex: fd.IgnoreRegex,
				MaxLines: fd.MaxLines, DatePattern: fd.DatePattern, UseDNS: "warn"}
			var lines []string
			spans := spanDates{}
			for _, r := range fd.Rows {
				line, _ := r[0].(string)
				lines = append(lines, line)
				if sp, ok := r[1].([]any); ok && len(sp) == 2 {
					spans[line] = [2]int{int(sp[0].(float64)), int(sp[1].(float64))}
				}
			}
			f, err := Compile(def, Options{Dates: realSpans(spans)})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if f.pref != nil {
				checkContentSplit(t, f.pref, lines)
			}
			checkChains(t, f, lines)
			checked := 0
			defer func() { t.Logf("%d expectations checked", checked) }()
			for _, sl := range parseSample(t, name, lines) {
				if !sl.appliesTo(map[string]string{}) {
					continue
				}
				res := f.Process(sl.line)
				if sl.want == nil {
					continue
				}
				if holds, ok := constraintHolds(sl.want.Constraint, name, "normal"); !ok || !holds {
					continue
				}
				checked++
				got := len(res.Failures) > 0
				if got != sl.want.Match {
					t.Errorf("line %d: match=%v, want %v: %.160s", sl.lineNo, got, sl.want.Match, sl.line)
					continue
				}
				if h, ok := sl.want.Host.(string); ok && got && res.Failures[0].ID != h && res.Failures[0].Host != h {
					t.Errorf("line %d: host %q (id %q), want %q", sl.lineNo, res.Failures[0].Host, res.Failures[0].ID, h)
				}
			}
		})
	}
}

// realSpans adapts spans to a DateFinder that reports the date text.
type realSpans spanDates

func (d realSpans) Find(line string) (datetime.Match, bool) {
	s, ok := d[line]
	if !ok {
		return datetime.Match{}, false
	}
	return datetime.Match{Start: s[0], End: s[1], Template: strings.TrimSpace(line[s[0]:s[1]])}, true
}
