package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/internal/datetime"
	"warden/internal/filter"
)

func TestReadLine(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  []string
		cut   []bool
	}{
		{"plain", "a\nb\n", 100, []string{"a", "b"}, []bool{false, false}},
		{"no final newline", "a\nb", 100, []string{"a", "b"}, []bool{false, false}},
		{"crlf kept for the caller", "a\r\nb\r\n", 100, []string{"a\r", "b\r"}, []bool{false, false}},
		{"empty lines", "\n\nx", 100, []string{"", "", "x"}, []bool{false, false, false}},
		{"cut", "abcdefgh\nxy\n", 3, []string{"abc", "xy"}, []bool{true, false}},
		{"cut across buffer refills", strings.Repeat("z", 40000) + "\nq", 20000, []string{strings.Repeat("z", 20000), "q"}, []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			var buf []byte
			var got []string
			var cut []bool
			for {
				line, c, err := readLine(br, &buf, tt.limit)
				if len(line) > 0 || err == nil {
					got = append(got, string(line))
					cut = append(cut, c)
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
			for i := range cut {
				if i < len(tt.cut) && cut[i] != tt.cut[i] {
					t.Errorf("line %d cut=%v, want %v", i, cut[i], tt.cut[i])
				}
			}
		})
	}
}

// TestRegexHostileLog feeds a 10 MB line, binary garbage, CRLF endings and
// an unterminated last line, and checks every line is counted.
func TestRegexHostileLog(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	b.WriteString("2024-01-02 03:04:05 x failed from 192.0.2.1\r\n")
	b.WriteString("2024-01-02 03:04:05 ")
	b.Write(bytes.Repeat([]byte("A"), 10<<20))
	b.WriteString(" failed from 192.0.2.2\n")
	b.Write([]byte{0xff, 0xfe, 0, 1, 2, 0x80, '\n'})
	b.WriteString("\r\n\n")
	b.WriteString("2024-01-02 03:04:06 x failed from 192.0.2.3") // no final newline
	p := filepath.Join(dir, "hostile.log")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "regex", "--json", p, "failed from <HOST>$")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	var j regexJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if j.Lines.Total != 4 || j.Lines.Binary != 1 {
		t.Errorf("lines %+v, want 4 tested, 1 with invalid UTF-8", j.Lines)
	}
	if j.Lines.Matched+j.Lines.Missed+j.Lines.Ignored != j.Lines.Total {
		t.Errorf("counts do not add up: %+v", j.Lines)
	}
}

func FuzzReadLine(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), 4)
	f.Add([]byte("\n\n\n"), 1)
	f.Add([]byte{0xff, '\n', 0}, 2)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		if limit <= 0 || limit > 1<<16 {
			limit = 1 << 16
		}
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		var buf []byte
		var lines [][]byte
		anyCut := false
		for i := 0; ; i++ {
			if i > len(in)+1 {
				t.Fatal("more lines than bytes")
			}
			line, cut, err := readLine(br, &buf, limit)
			if len(line) > limit {
				t.Fatalf("line of %d bytes exceeds limit %d", len(line), limit)
			}
			anyCut = anyCut || cut
			if len(line) > 0 || err == nil {
				lines = append(lines, append([]byte(nil), line...))
			}
			if err != nil {
				break
			}
		}
		if !anyCut {
			joined := bytes.Join(lines, []byte("\n"))
			if !bytes.Equal(joined, bytes.TrimSuffix(in, []byte("\n"))) {
				t.Fatalf("lines %q do not rebuild input %q", lines, in)
			}
		}
	})
}

func FuzzOptionsRepr(f *testing.F) {
	for _, s := range []string{"[mode=aggressive]", `[a="x, y", b='z']`, "[a=1,b=2]", "[", "[=]", `[a="]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := optionsRepr(s)
		if err == nil && !strings.HasPrefix(r, "{") {
			t.Fatalf("repr %q of %q", r, s)
		}
	})
}

func FuzzFormatOut(f *testing.F) {
	for _, s := range []string{"ip", "row", "msg", "[time, ip, user]", "<ip> <F-USER> <msg>", "<", "[", "<msg><msg>"} {
		f.Add(s)
	}
	fl := filter.Failure{ID: "192.0.2.1", Host: "192.0.2.1", Time: time.Unix(1700000000, 0),
		Fields: map[string]string{"user": "root"}, Lines: []string{"l1", "l2"}}
	f.Fuzz(func(t *testing.T, format string) {
		if format == "" {
			return
		}
		out := formatOut(format, fl, time.UTC, outOpts{})
		if len(out) == 0 {
			t.Fatalf("no output for %q", format)
		}
	})
}

func TestFormatOut(t *testing.T) {
	fl := filter.Failure{ID: "192.0.2.1", Host: "192.0.2.1", Time: time.Unix(1700000000, 500000000).In(time.UTC),
		Fields: map[string]string{"user": "ro'ot", "ip4": "192.0.2.1"}, Lines: []string{"first", "second"}}
	tests := []struct {
		format string
		want   []string
	}{
		{"id", []string{"192.0.2.1"}},
		{"ip", []string{"192.0.2.1"}},
		{"time", []string{"1700000000.5"}},
		{"date", []string{"2023-11-14 22:13:20"}},
		{"user", []string{"ro'ot"}},
		{"F-USER", []string{"ro'ot"}},
		{"nosuch", []string{"None"}},
		{"msg", []string{"first", "second"}},
		{"row", []string{`['192.0.2.1',	1700000000.5,	{'ip4': '192.0.2.1', 'user': "ro'ot"}],`}},
		{"[ip, user, nosuch]", []string{`['192.0.2.1', "ro'ot", None]`}},
		{"[time, ip]", []string{`[1700000000.5, '192.0.2.1']`}},
		{"<ip> <F-USER> <zzz>", []string{"192.0.2.1 ro'ot <zzz>"}},
		{"<ip>/<F-NONE>/", []string{"192.0.2.1//"}},
		{"<ip>: <msg>", []string{"192.0.2.1: first", "192.0.2.1: second"}},
	}
	for _, tt := range tests {
		got := formatOut(tt.format, fl, time.UTC, outOpts{})
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("formatOut(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

// TestAppendOutIP: -o ip's own writer prints what formatOut prints for
// "ip": a captured ip field first, else the address, else the id.
func TestAppendOutIP(t *testing.T) {
	for _, fl := range []filter.Failure{
		{ID: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1")},
		{ID: "2001:db8::1", Addr: netip.MustParseAddr("2001:db8::1")},
		{ID: "fe80::1%eth0", Addr: netip.MustParseAddr("fe80::1%eth0")},
		{ID: "::ffff:192.0.2.9", Addr: netip.MustParseAddr("::ffff:192.0.2.9")},
		{ID: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"), Fields: map[string]string{"ip": "198.51.100.9"}},
		{ID: "host.example.org"},
		{ID: "10.0.0.0/8", Fields: map[string]string{"user": "x"}},
	} {
		want := strings.Join(formatOut("ip", fl, time.UTC, outOpts{}), "\n") + "\n"
		if got := string(appendOutIP([]byte("kept:"), fl)); got != "kept:"+want {
			t.Errorf("%+v: %q, want %q", fl, got, "kept:"+want)
		}
	}
}

// outNeedsFailure has a captured "ip" that differs from its address, so a
// format that reads the field is told from one that reads the address.
var outNeedsFailure = filter.Failure{ID: "192.0.2.1", Host: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"),
	Time:   time.Unix(1700000000, 0).In(time.UTC),
	Fields: map[string]string{"user": "root", "ip4": "192.0.2.1", "ip": "198.51.100.9", "alt_user": "x"},
	Lines:  []string{"first", "second"}, Users: []string{"root", "admin"}}

// checkOutNeeds fails t unless outNeedsFailure cut down to what outNeeds
// lists for format prints as the whole failure does; it returns whether
// the format needs lines.
func checkOutNeeds(t *testing.T, format string, compat bool) bool {
	t.Helper()
	fl := outNeedsFailure
	lines, fields := outNeeds(format, compat)
	cut := fl
	if !lines {
		cut.Lines, cut.Users, cut.Fields = nil, nil, nil
		for _, k := range fields {
			if v, ok := fl.Fields[k]; ok {
				if cut.Fields == nil {
					cut.Fields = map[string]string{}
				}
				cut.Fields[k] = v
			}
		}
	}
	o := outOpts{compat: compat}
	want, got := formatOut(format, fl, time.UTC, o), formatOut(format, cut, time.UTC, o)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%q (compat %v, fields %q): cut down %q, whole %q", format, compat, fields, got, want)
	}
	return lines
}

// TestOutNeeds: a failure cut down to what outNeeds says a format reads
// (the listed fields; no lines or users unless it reads them) prints as
// the whole failure does, and ip, id and the like need no lines.
func TestOutNeeds(t *testing.T) {
	tests := []struct {
		format string
		lines  bool
	}{
		{"ip", false}, {"id", false}, {"fid", false}, {"time", false}, {"date", false}, {"host", false},
		{"user", false}, {"F-USER", false}, {"F-ALT_USER", false}, {"nosuch", false},
		{"[time, ip, user]", false}, {"[ip, F-ALT_USER, nosuch]", false}, {"<ip> <F-USER> <zzz>", false},
		{"<host>:<fid>:<F-NONE>", false}, {"<ip> <ip4>", false},
		{"msg", true}, {"row", true}, {"[ip, failures]", true}, {"<ip>: <msg>", true}, {"<attempts>", true},
		{"[matches]", true}, {"<ip> <matches>", true},
	}
	for _, tt := range tests {
		for _, compat := range []bool{false, true} {
			if lines := checkOutNeeds(t, tt.format, compat); lines != tt.lines {
				t.Errorf("outNeeds(%q) lines = %v, want %v", tt.format, lines, tt.lines)
			}
		}
	}
}

// FuzzOutNeeds: for any -o format, what outNeeds keeps prints as the
// whole failure does.
func FuzzOutNeeds(f *testing.F) {
	for _, s := range []string{"ip", "F-IP", "[ip, user]", "[ ip ]", "<ip><F-USER>", "<IP> <msg", "[<ip>]", "<a-b> <F-ALT_USER>"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, format string, compat bool) {
		if format == "" {
			return
		}
		checkOutNeeds(t, format, compat)
	})
}

func TestPyTime(t *testing.T) {
	tests := []struct {
		t     time.Time
		zoned bool
		want  string
	}{
		{time.Unix(1700000000, 0), false, "1700000000.0"}, // local: a float
		{time.Unix(1700000000, 0), true, "1700000000"},    // zone given: an int
		{time.Unix(1700000000, 250000000), false, "1700000000.25"},
		{time.Unix(1700000000, 250000000), true, "1700000000.25"},
		{time.Time{}, false, "None"},
	}
	for _, tt := range tests {
		if got := pyTime(tt.t, tt.zoned); got != tt.want {
			t.Errorf("pyTime(%v, %v) = %s, want %s", tt.t, tt.zoned, got, tt.want)
		}
	}
}

func TestDatePatternName(t *testing.T) {
	tests := map[string]string{
		"{^LN-BEG}":         "Default Detectors",
		"%Y-%m-%d %H:%M:%S": "Year-Month-Day 24hour:Minute:Second",
		"^%b %d %H:%M:%S":   "^MON Day 24hour:Minute:Second",
		"{^LN-BEG}%Y-%m-%d": "{^LN-BEG}Year-Month-Day",
		"EPOCH":             "Epoch",
		"{NONE}":            "^",
		"^%ExY-%m %z %%":    "^ExYear-Month Zone offset %",
	}
	for in, want := range tests {
		if got := datePatternName(in); got != want {
			t.Errorf("datePatternName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := newProgressBar(&b, progressMinSize*2)
	p.interval = 0
	p.update(progressMinSize, 1234)
	if got := b.String(); !strings.Contains(got, " 50% 1234 lines") || !strings.HasPrefix(got, "\r[###############               ]") {
		t.Errorf("progress line %q", got)
	}
	p.finish()
	if !strings.HasSuffix(b.String(), "\r") {
		t.Errorf("finish did not clear the line: %q", b.String())
	}
	var small bytes.Buffer
	q := newProgressBar(&small, progressMinSize-1)
	q.interval = 0
	q.update(10, 1)
	q.finish()
	if small.Len() != 0 {
		t.Errorf("progress drawn for a small file: %q", small.String())
	}
}

// setupFuzzRun gives r the fuzz targets' filter (one failregex, one
// ignoreregex, raw addresses), a date detector and empty statistics;
// sharedLines is the filter's SharedLines option.
func setupFuzzRun(t *testing.T, r *regexRun, sharedLines bool) {
	t.Helper()
	r.setup.def = filter.Definition{FailRegex: []string{`failed from <HOST>`}, IgnoreRegex: []string{`^ignored`}, UseDNS: "raw"}
	var err error
	if r.dates, err = datetime.New(datetime.Options{}); err != nil {
		t.Fatal(err)
	}
	if r.flt, err = filter.Compile(r.setup.def, filter.Options{Dates: r.dates, Diagnostics: true, SharedLines: sharedLines}); err != nil {
		t.Fatal(err)
	}
	r.stats.failHits = make([]int, 1)
	r.stats.failIPs = make([][]failureInfo, 1)
	r.stats.ignoreHits = make([]int, 1)
}

// FuzzRegexProcess streams arbitrary bytes through a real filter: no
// panic, and every tested line is counted exactly once.
func FuzzRegexProcess(f *testing.F) {
	f.Add([]byte("2024-01-02 03:04:05 x failed from 192.0.2.1\r\n#c\n\n\xff\xfe from 1.2.3.4"))
	f.Add([]byte("Jan  1 00:00:00 h failed from [::1]\nfailed from 10.0.0.1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		o := &regexOpts{maxlines: 0}
		r := &regexRun{o: o, stdout: io.Discard, ctx: context.Background()}
		setupFuzzRun(t, r, false)
		if err := r.processReader(bytes.NewReader(in), int64(len(in))); err != nil {
			t.Fatal(err)
		}
		st := r.stats
		if st.matched+st.missed+st.ignored != st.tested || st.tested > bytes.Count(in, []byte("\n"))+1 {
			t.Fatalf("counts %d+%d+%d != %d for %q", st.matched, st.missed, st.ignored, st.tested, in)
		}
	})
}

func TestRegexConfigFallback(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		config string
		given  bool
		want   string
	}{
		{"given, used even when empty", dir, true, dir},
		{"default present", "testdata/regex/conf", false, "testdata/regex/conf"},
	}
	if _, err := os.Stat("/etc/warden/filter.d"); err != nil {
		tests = append(tests, struct {
			name   string
			config string
			given  bool
			want   string
		}{"default missing: built-in tree", filepath.Join(dir, "none"), false, builtinRoot})
	}
	for _, tt := range tests {
		r := &regexRun{o: &regexOpts{config: tt.config}, configGiven: tt.given}
		fsys, root := r.configFS()
		if root != tt.want {
			t.Errorf("%s: root %q, want %q", tt.name, root, tt.want)
		}
		if root == builtinRoot {
			if _, err := fs.Stat(fsys, "filter.d/sshd.conf"); err != nil {
				t.Errorf("%s: built-in tree lacks sshd: %v", tt.name, err)
			}
		}
	}
}

// TestRegexTimeoutsReported: regex time-outs show in the summary and in
// --json, and not at all in fail2ban-regex compatible output.
func TestRegexTimeoutsReported(t *testing.T) {
	for _, tt := range []struct {
		name     string
		timeouts int
		json     bool
		compat   bool
		want     string
	}{
		{"summary", 3, false, false, "[3 regex matches abandoned at the match time-out, counted as no match]"},
		{"none", 0, false, false, ""},
		{"compat", 3, false, true, ""},
		{"json", 3, true, false, `"timeouts": 3,`},
		{"json-none", 0, true, false, `"timeouts": 0,`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			r := &regexRun{o: &regexOpts{json: tt.json, compat: tt.compat}, stdout: &out, ctx: context.Background()}
			r.setup.def = filter.Definition{FailRegex: []string{`failed from <HOST>`}}
			var err error
			if r.dates, err = datetime.New(datetime.Options{}); err != nil {
				t.Fatal(err)
			}
			if r.flt, err = filter.Compile(r.setup.def, filter.Options{Dates: r.dates}); err != nil {
				t.Fatal(err)
			}
			r.stats.failHits, r.stats.failIPs = make([]int, 1), make([][]failureInfo, 1)
			r.stats.timeouts = tt.timeouts
			if tt.json {
				if err := r.printJSON(); err != nil {
					t.Fatal(err)
				}
			} else {
				r.printStats()
			}
			if tt.want != "" && !strings.Contains(out.String(), tt.want) {
				t.Errorf("no %q in:\n%s", tt.want, out.String())
			}
			if tt.want == "" && strings.Contains(out.String(), "time-out") {
				t.Errorf("time-outs reported:\n%s", out.String())
			}
		})
	}
}
