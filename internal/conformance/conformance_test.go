package conformance

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/datetime"
	"warden/internal/filter"
)

// Where Debian's fail2ban package puts its configuration and test samples.
const (
	etcDir     = "/etc/fail2ban"
	samplesDir = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs"
	gapsFile   = "../../docs/KNOWN-GAPS.md"
)

// critical filters must pass every sample line (known gaps aside).
var critical = []string{"sshd", "postfix", "dovecot", "exim", "exim-spam", "nginx-*", "apache-*", "recidive"}

// minTotal is the overall pass rate each filter source must reach.
const minTotal = 0.98

func isCritical(name string) bool {
	for _, p := range critical {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func TestConformance(t *testing.T) {
	if _, err := os.Stat(samplesDir); err != nil {
		t.Skipf("fail2ban sample logs not installed (%v); apt-get install fail2ban", err)
	}
	if _, err := os.Stat(filepath.Join(etcDir, "filter.d")); err != nil {
		t.Skipf("fail2ban configuration not installed (%v)", err)
	}
	gf, err := os.Open(gapsFile)
	if err != nil {
		t.Fatal(err)
	}
	gaps, err := ParseGaps(gf, "docs/KNOWN-GAPS.md")
	gf.Close()
	if err != nil {
		t.Fatal(err)
	}
	loc, err := SampleZone()
	if err != nil {
		t.Fatal(err)
	}
	// fail2ban's suite runs with TZ set to SampleTZ, so its "local time" is
	// that zone; no logtimezone is configured. Do the same for the duration
	// of this test (time.Local is read when filters are compiled).
	origLocal := time.Local
	time.Local = loc
	t.Cleanup(func() { time.Local = origLocal })
	names, err := sampleFilters(os.DirFS(etcDir))
	if err != nil {
		t.Fatal(err)
	}

	sources := []struct {
		name string
		fsys fs.FS
	}{{"etc", os.DirFS(etcDir)}}
	if efs := embeddedFS(); efs != nil {
		sources = append(sources, struct {
			name string
			fsys fs.FS
		}{"defaults", efs})
	}

	var rep report
	for _, src := range sources {
		for _, name := range names {
			if src.name != "etc" {
				if _, err := fs.Stat(src.fsys, "filter.d/"+name+".conf"); err != nil {
					continue // no embedded filter of that name
				}
			}
			r := &sampleRun{
				dir: samplesDir, source: src.name, name: name, fsys: src.fsys, loc: loc,
				gaps: gaps, filters: map[string]*filterInst{},
			}
			if err := r.run(); err != nil {
				t.Errorf("%s/%s: %v", src.name, name, err)
			}
			rep.add(r)
		}
	}
	text := rep.format()
	t.Log("\n" + text)
	if p := os.Getenv("WARDEN_CONFORMANCE_REPORT"); p != "" {
		full := text
		if len(rep.failures) > 0 {
			full += "\nLines that differ:\n" + strings.Join(rep.failures, "\n") + "\n"
		}
		if err := os.WriteFile(p, []byte(full), 0o644); err != nil {
			t.Errorf("writing report: %v", err)
		}
	}
	for _, f := range rep.failures {
		t.Log(f)
	}
	for _, s := range rep.stale(gaps) {
		t.Logf("stale known gap (line passes now): %s", s)
	}
	for _, msg := range rep.verdict() {
		t.Error(msg)
	}
}

// sampleFilters lists the filters of filter.d that have a sample log.
func sampleFilters(fsys fs.FS) ([]string, error) {
	ents, err := fs.ReadDir(fsys, "filter.d")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".conf")
		if !ok || n == "common" || strings.HasPrefix(n, ".") {
			continue
		}
		if st, err := os.Stat(filepath.Join(samplesDir, n)); err == nil && st.Mode().IsRegular() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// filterInst is one compiled filter for one options set. Like fail2ban's
// test, the same instance (and its multi-line state) is reused whenever the
// same options set comes back in the sample log.
type filterInst struct {
	key  string
	spec string
	f    *filter.Filter
	err  error
}

type filterTest struct {
	inst *filterInst
	opts Opts // the whole set, test.* keys included
}

// lineResult is the outcome of one annotated (or plain) line for one
// options set.
type lineResult struct {
	file   string
	line   int
	set    string
	ok     bool
	gap    *Gap
	detail string
}

type sampleRun struct {
	dir          string // where the sample logs are
	source, name string
	fsys         fs.FS
	loc          *time.Location
	gaps         Gaps
	filters      map[string]*filterInst
	results      []lineResult
}

// run replays the filter's sample log (and files it adds) the way fail2ban's
// samples test case does.
func (r *sampleRun) run() error {
	files := []string{r.name}
	var common Opts
	var tests []filterTest
	testsSet := false
	for fi := 0; fi < len(files); fi++ {
		b, err := os.ReadFile(filepath.Join(r.dir, files[fi]))
		if err != nil {
			return err
		}
		lines := SplitLines(b)
		ignoreBlock := false
		var want Opts
		for i := 0; i < len(lines); i++ {
			line, lnnum := lines[i], i+1
			kind, payload := ParseDirective(line)
			switch {
			case kind == FileOptions:
				if common, err = DecodeObject(payload); err != nil {
					return fmt.Errorf("%s:%d: %w", files[fi], lnnum, err)
				}
				continue
			case kind == FilterOptions:
				sets, err := DecodeOptionSets(payload)
				if err != nil {
					return fmt.Errorf("%s:%d: %w", files[fi], lnnum, err)
				}
				tests, testsSet, ignoreBlock = nil, true, false
				for _, set := range sets {
					opts := common.Merge(set)
					if c := opts.String("test.condition"); c != "" {
						ok, err := Eval(c, Env{Name: r.name, Opts: opts})
						if err != nil {
							return fmt.Errorf("%s:%d: %w", files[fi], lnnum, err)
						}
						ignoreBlock = !ok
					}
					if !ignoreBlock {
						tests = append(tests, filterTest{r.instance(opts.FilterOnly()), opts})
					}
				}
				continue
			case kind == AddFile:
				v, err := DecodeJSON(payload)
				if s, ok := v.(string); err == nil && ok {
					files = append(files, s)
					continue
				}
				return fmt.Errorf("%s:%d: addFILE wants a JSON string", files[fi], lnnum)
			case kind == FailJSON:
				if want, err = DecodeObject(payload); err != nil {
					return fmt.Errorf("%s:%d: %w", files[fi], lnnum, err)
				}
				i++
				if i >= len(lines) {
					return nil
				}
				line, lnnum = lines[i], i+1
			case ignoreBlock || strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "":
				continue
			default:
				want = Opts{}
			}
			if ignoreBlock {
				continue
			}
			if !testsSet || len(tests) == 0 {
				tests, testsSet = []filterTest{{r.instance(Opts{}), Opts{}}}, true
			}
			line = strings.TrimRight(line, "\r\n")
			for _, ft := range tests {
				if c := want.String("constraint"); c != "" {
					ok, err := Eval(c, Env{Name: r.name, Opts: ft.opts})
					if err != nil {
						return fmt.Errorf("%s:%d: %w", files[fi], lnnum, err)
					}
					if !ok {
						continue
					}
				}
				res := lineResult{file: files[fi], line: lnnum, set: ft.inst.key}
				res.detail = r.check(ft, line, want)
				res.ok = res.detail == ""
				if !res.ok {
					if g, ok := r.gaps.Find(r.source, r.name, files[fi], lnnum); ok {
						res.gap = &g
					}
				}
				r.results = append(r.results, res)
			}
		}
	}
	return nil
}

// instance loads and compiles the filter for an options set once.
func (r *sampleRun) instance(opts Opts) *filterInst {
	key := opts.Key()
	if fi, ok := r.filters[key]; ok {
		return fi
	}
	fi := &filterInst{key: key, spec: opts.Spec(r.name)}
	r.filters[key] = fi
	cf, err := config.LoadFilter(r.fsys, fi.spec)
	if err != nil {
		fi.err = fmt.Errorf("config.LoadFilter(%q): %w", fi.spec, err)
		return fi
	}
	def := filter.Definition{
		Name:        r.name,
		PrefRegex:   cf.PrefRegex,
		FailRegex:   cf.FailRegex,
		IgnoreRegex: cf.IgnoreRegex,
		MaxLines:    cf.MaxLines,
		DatePattern: cf.DatePattern,
		// The sample test keeps hosts as written (returnRawHost) while
		// <HOST> still matches names as with usedns=warn.
		UseDNS: "raw",
	}
	if opts.String("logtype") == "journal" {
		// The journal gives the time; fail2ban's test passes "now" and looks
		// for no date in the line.
		def.DatePattern = "{NONE}"
	}
	fo := filter.Options{Now: SampleNow}
	if def.DatePattern != "{NONE}" {
		d, err := sampleDetector(def.DatePattern)
		if err != nil {
			fi.err = fmt.Errorf("datetime.New(%q): %w", def.DatePattern, err)
			return fi
		}
		fo.Dates = d
	}
	fi.f, fi.err = filter.Compile(def, fo)
	if fi.err != nil {
		fi.err = fmt.Errorf("filter.Compile(%s): %w", fi.spec, fi.err)
	}
	return fi
}

// sampleDetector builds a date detector the way fail2ban's suite has one:
// its %ExY year window was fixed from the wall clock when fail2ban's
// strptime module was imported (years 2000 to this year + 3), and only then
// was the clock pinned to SampleNow for year-less stamps and {NONE}. So
// the detector sees the real time while it is built, SampleNow after.
func sampleDetector(pattern string) (*datetime.Detector, error) {
	built := false
	now := func() time.Time {
		if !built {
			return time.Now()
		}
		return SampleNow()
	}
	d, err := datetime.New(datetime.Options{Pattern: pattern, Now: now})
	built = true
	return d, err
}

// check runs one line through one filter instance and returns "" when the
// outcome matches the annotation, else what differs.
func (r *sampleRun) check(ft filterTest, line string, want Opts) string {
	if ft.inst.err != nil {
		return ft.inst.err.Error()
	}
	if ft.opts.String("logtype") == "journal" {
		line = ft.opts.String("test.prefix-line") + line
	}
	res := ft.inst.f.Process(line)
	var found []filter.Failure
	for _, f := range res.Failures {
		if f.NoFail || pending(f) {
			continue
		}
		found = append(found, f)
	}
	wantMatch, _ := want.Get("match")
	if len(found) == 0 {
		if wantMatch == true {
			return "line not matched when it should have been"
		}
		return ""
	}
	if wantMatch != true {
		return "line matched when it should not have been: " + describe(found)
	}
	if len(found) > 1 {
		return "several regexes matched: " + describe(found)
	}
	got := found[0]
	var diffs []string
	for _, k := range want.Keys {
		switch k {
		case "time", "match", "desc", "constraint":
			continue
		}
		if d := compareField(got, k, want.Vals[k]); d != "" {
			diffs = append(diffs, d)
		}
	}
	if ts := want.String("time"); ts != "" {
		wt, err := parseSampleTime(ts, r.loc)
		if err != nil {
			diffs = append(diffs, err.Error())
		} else if got.Time.UnixMicro() != wt.UnixMicro() {
			diffs = append(diffs, fmt.Sprintf("time: want %s, got %s",
				wt.In(r.loc).Format("2006-01-02T15:04:05.999999 MST"),
				got.Time.In(r.loc).Format("2006-01-02T15:04:05.999999 MST")))
		}
	}
	if len(diffs) > 0 {
		return strings.Join(diffs, "; ") + " [got " + describe(found) + "]"
	}
	return ""
}

// pending reports a failure without address or id yet (a multi-line
// failure waiting for its host), which fail2ban's test skips.
func pending(f filter.Failure) bool { return f.ID == "" && f.Host == "" }

func parseSampleTime(s string, loc *time.Location) (time.Time, error) {
	// Like Python's strptime, accept unpadded fields ("2005-03-7T02:09:33");
	// Go takes an optional fraction after the seconds by itself.
	t, err := time.ParseInLocation("2006-1-2T15:4:5", s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad sample time %q", s)
	}
	return t, nil
}

// compareField checks one expected key of a failJSON annotation against the
// failure, by fail2ban's rules: the key names a captured field; "host"
// falls back to the failure id, "attempts" to the number of matched lines;
// lists compare as sorted sets; null means "not captured".
func compareField(f filter.Failure, k string, want any) string {
	if wl, ok := SortedStrings(want); ok {
		gl, present := setField(f, k)
		if !present || strings.Join(gl, "\x00") != strings.Join(wl, "\x00") {
			return fmt.Sprintf("%s: want %q, got %q", k, wl, gl)
		}
		return ""
	}
	got, present := fieldValue(f, k)
	if want == nil {
		if present {
			return fmt.Sprintf("%s: want none, got %q", k, got)
		}
		return ""
	}
	if !present {
		return fmt.Sprintf("%s: want %q, got none", k, valueText(want))
	}
	if got != valueText(want) {
		return fmt.Sprintf("%s: want %q, got %q", k, valueText(want), got)
	}
	return ""
}

// fieldValue is fail.get(k) with the fallbacks of fail2ban's sample test.
func fieldValue(f filter.Failure, k string) (string, bool) {
	if v, ok := f.Fields[k]; ok {
		return v, true
	}
	switch k {
	case "host":
		return f.ID, f.ID != ""
	case "attempts":
		return fmt.Sprint(len(f.Lines)), true
	case "users":
		if f.Users != nil {
			return strings.Join(f.Users, ","), true
		}
	}
	return "", false
}

// setField reads a set-valued field (the users of a multi-line failure),
// sorted.
func setField(f filter.Failure, k string) ([]string, bool) {
	if k == "users" && f.Users != nil {
		l := append([]string{}, f.Users...)
		sort.Strings(l)
		return l, true
	}
	v, ok := f.Fields[k]
	if !ok {
		return nil, false
	}
	return []string{v}, true
}

func describe(fs []filter.Failure) string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteString(" | ")
		}
		fmt.Fprintf(&b, "regex %d id=%q host=%q time=%s", f.Regex, f.ID, f.Host, f.Time.UTC().Format(time.RFC3339Nano))
		keys := make([]string, 0, len(f.Fields))
		for k := range f.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%q", k, f.Fields[k])
		}
		if f.Users != nil {
			fmt.Fprintf(&b, " users=%q", f.Users)
		}
		fmt.Fprintf(&b, " lines=%d", len(f.Lines))
	}
	return b.String()
}
