package filter

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"warden/internal/datetime"
)

func mustCompile(t *testing.T, def Definition, opts Options) *Filter {
	t.Helper()
	f, err := Compile(def, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCompileErrors: a bad regex is reported with its list and index.
func TestCompileErrors(t *testing.T) {
	cases := []struct {
		def  Definition
		is   error
		want string
	}{
		{Definition{FailRegex: []string{`^ok <HOST>`, `^bad (<HOST>`}}, ErrBadRegex, "failregex[1]"},
		{Definition{FailRegex: []string{`^ok <HOST>`}, IgnoreRegex: []string{`x**`}}, ErrBadRegex, "ignoreregex[0]"},
		{Definition{PrefRegex: `(`, FailRegex: []string{`^ok <HOST>`}}, ErrBadRegex, "prefregex"},
		{Definition{FailRegex: []string{`^no id here`}}, ErrNoFailID, "failregex[0]"},
		{Definition{FailRegex: []string{`^user <F-USER>\w+`}}, ErrBadRegex, "never closed"},
		{Definition{FailRegex: []string{`   `}}, ErrBadRegex, "empty regex"},
	}
	for _, c := range cases {
		_, err := Compile(c.def, Options{})
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %v containing %q", c.def.FailRegex, err, c.is, c.want)
		}
	}
	// the id may come from the prefregex
	if _, err := Compile(Definition{PrefRegex: `^<F-MLFID>\S+</F-MLFID> <F-CONTENT>.+</F-CONTENT>$`,
		FailRegex: []string{`^closed$`}}, Options{}); err != nil {
		t.Errorf("id from prefregex: %v", err)
	}
}

// TestHostileLines: huge, binary and invalid UTF-8 lines never panic and
// match as fail2ban would after decoding with errors='replace'.
func TestHostileLines(t *testing.T) {
	f := mustCompile(t, Definition{FailRegex: []string{
		`^user (?P<u>.) from <HOST>$`,
		`^(?:(?!skip).)*? bad from <ADDR>$`, // backtracking engine
	}}, Options{MatchTimeout: time.Second})
	cases := []struct {
		line string
		host string // "" = no failure
		user string
	}{
		{"user \xff from 192.0.2.1", "192.0.2.1", "\xff"}, // one bad byte = one U+FFFD = one '.'
		{"user é from 192.0.2.2", "192.0.2.2", "é"},
		{"user \xff\xfe from 192.0.2.3", "", ""},
		{"\x00\x01\xfe bad from 192.0.2.4", "192.0.2.4", ""},
		{strings.Repeat("\xff", 1<<14) + " bad from 192.0.2.5", "192.0.2.5", ""},
		{strings.Repeat("a", 10<<20), "", ""},
		{"user x from " + strings.Repeat("-", 10<<20), "", ""},
		{"user x from 192.0.2.6" + strings.Repeat(" ", 10<<20), "", ""},
	}
	for _, c := range cases {
		start := time.Now()
		res := f.Process(c.line)
		short := c.line
		if len(short) > 40 {
			short = short[:40] + "…"
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%q took %v", short, d)
		}
		switch {
		case c.host == "" && len(res.Failures) > 0:
			t.Errorf("%q: unexpected failure", short)
		case c.host != "" && (len(res.Failures) != 1 || res.Failures[0].Host != c.host):
			t.Errorf("%q: %d failures, want host %s", short, len(res.Failures), c.host)
		case c.user != "" && res.Failures[0].Fields["u"] != c.user:
			t.Errorf("%q: user %q, want %q", short, res.Failures[0].Fields["u"], c.user)
		}
	}
}

// TestUnicodeLines: non-ASCII lines use Python's Unicode classes.
func TestUnicodeLines(t *testing.T) {
	f := mustCompile(t, Definition{FailRegex: []string{`^code (?P<n>\d+)\s(?P<w>\w+)\b from <ADDR>$`}}, Options{})
	res := f.Process("code ١٢\u00a0naïve from 192.0.2.9")
	if len(res.Failures) != 1 || res.Failures[0].Fields["n"] != "١٢" || res.Failures[0].Fields["w"] != "naïve" {
		t.Fatalf("got %+v", res.Failures)
	}
	if res := f.Process("code 12 x\u00e9 from 192.0.2.9"); len(res.Failures) != 1 {
		t.Errorf("ascii digits with non-ASCII word: %+v", res)
	}
}

// TestResolve: names go through the Resolve hook only with usedns yes/warn.
func TestResolve(t *testing.T) {
	hook := func(h string) []netip.Addr {
		if h == "bad.example" {
			return []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("::ffff:192.0.2.11"), netip.MustParseAddr("192.0.2.10")}
		}
		return nil
	}
	cases := []struct {
		usedns string
		hook   bool
		want   []string // IDs
		unres  bool
	}{
		{"yes", true, []string{"192.0.2.10", "192.0.2.11"}, false},
		{"warn", false, []string{"bad.example"}, true},
		{"raw", true, []string{"bad.example"}, false},
	}
	for _, c := range cases {
		opts := Options{}
		if c.hook {
			opts.Resolve = hook
		}
		f := mustCompile(t, Definition{FailRegex: []string{`^bad <HOST>$`}, UseDNS: c.usedns}, opts)
		res := f.Process("bad bad.example")
		var ids []string
		for _, fl := range res.Failures {
			ids = append(ids, fl.ID)
			if fl.Unresolved != c.unres || fl.Host != "bad.example" {
				t.Errorf("%s: %+v", c.usedns, fl)
			}
		}
		if strings.Join(ids, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: ids %v, want %v", c.usedns, ids, c.want)
		}
	}
}

// fixedDates finds a date "T<n>" at the start of a line: n seconds after
// base.
type fixedDates struct{ base time.Time }

func (d fixedDates) Find(line string) (datetime.Match, bool) {
	if !strings.HasPrefix(line, "T") {
		return datetime.Match{}, false
	}
	n := 1
	for n < len(line) && line[n] >= '0' && line[n] <= '9' {
		n++
	}
	secs := 0
	for _, c := range line[1:n] {
		secs = secs*10 + int(c-'0')
	}
	return datetime.Match{Time: d.base.Add(time.Duration(secs) * time.Second), Start: 0, End: n}, n > 1
}

// TestDates: the date text is cut out before matching, an undated line
// borrows the last date for a minute, and FindTime applies fail2ban's
// daemon checks.
func TestDates(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	def := Definition{FailRegex: []string{`^ bad <HOST>$`}}
	f := mustCompile(t, def, Options{Dates: fixedDates{now.Add(-30 * time.Second)}, Now: clock})
	res := f.Process("T10 bad 192.0.2.1")
	if !res.HasDate || len(res.Failures) != 1 || !res.Failures[0].Time.Equal(now.Add(-20*time.Second)) {
		t.Fatalf("dated line: %+v", res)
	}
	if res.Failures[0].Lines[0] != "T10 bad 192.0.2.1" {
		t.Errorf("lines keep the date text: %q", res.Failures[0].Lines)
	}
	res = f.Process(" bad 192.0.2.2") // no date: last date is recent
	if len(res.Failures) != 1 || !res.Failures[0].Time.Equal(now.Add(-20*time.Second)) || res.Failures[0].Lines[0] != "T10 bad 192.0.2.2" {
		t.Errorf("undated line: %+v", res.Failures)
	}
	// too old for the last date to be reused: no date at all
	old := mustCompile(t, def, Options{Dates: fixedDates{now.Add(-2 * time.Hour)}, Now: clock})
	old.Process("T1 bad 192.0.2.3")
	if res := old.Process(" bad 192.0.2.4"); len(res.Failures) != 1 || !res.Failures[0].Time.IsZero() {
		t.Errorf("stale last date: %+v", res.Failures)
	}
	// daemon mode: an odd date becomes now; restoring skips old lines
	op := mustCompile(t, def, Options{Dates: fixedDates{now.Add(-2 * time.Hour)}, Now: clock, FindTime: 10 * time.Minute})
	if res := op.Process("T1 bad 192.0.2.5"); len(res.Failures) != 1 || !res.Failures[0].Time.Equal(now) {
		t.Errorf("in operation: %+v", res.Failures)
	}
	rs := mustCompile(t, def, Options{Dates: fixedDates{now.Add(-2 * time.Hour)}, Now: clock, FindTime: 10 * time.Minute, Restoring: true})
	if res := rs.Process("T1 bad 192.0.2.6"); len(res.Failures) != 0 {
		t.Errorf("restoring old line: %+v", res.Failures)
	}
}

// TestMatchTimeout: a catastrophic backtracking regex gives up at the
// time-out and counts it.
func TestMatchTimeout(t *testing.T) {
	f := mustCompile(t, Definition{FailRegex: []string{`^(a+)+\1x from <HOST>`}}, Options{MatchTimeout: 20 * time.Millisecond})
	start := time.Now()
	res := f.Process(strings.Repeat("a", 40) + " y x from 192.0.2.1")
	if len(res.Failures) != 0 || f.Timeouts() != 1 {
		t.Errorf("failures %v, timeouts %d", res.Failures, f.Timeouts())
	}
	// the first time-out is retried once with retryFactor times the budget
	if d := time.Since(start); d > 3*time.Second || d < 300*time.Millisecond {
		t.Errorf("took %v, want about %v", d, (retryFactor+1)*20*time.Millisecond)
	}
	if v := f.fail[0].ascii; v.patient == nil || v.patient.MatchTimeout != retryFactor*v.bt.MatchTimeout {
		t.Errorf("no retry with a %dx budget", retryFactor)
	}
}

// TestExplain reports the engine per regex.
func TestExplain(t *testing.T) {
	f := mustCompile(t, Definition{PrefRegex: `^\S+ <F-CONTENT>.+</F-CONTENT>$`,
		FailRegex: []string{`^login failed from <HOST>$`, `^x(?=y) from <HOST>`}}, Options{})
	info := f.Explain()
	if len(info) != 3 || info[0].Kind != "prefregex" || info[1].Engine != EngineGo || info[2].Engine != EngineRegexp2 {
		t.Fatalf("%+v", info)
	}
	if len(info[1].Literals) == 0 || !strings.Contains(strings.Join(info[1].Literals, " "), "login failed from ") {
		t.Errorf("literals: %q", info[1].Literals)
	}
	if len(info[2].Reasons) == 0 || info[2].Reasons[0] != "lookaround" {
		t.Errorf("reasons: %q", info[2].Reasons)
	}
	if f.PrefRegex() != `^\S+ (?P<content>.+)$` {
		t.Errorf("prefregex: %q", f.PrefRegex())
	}
}

// TestProcessDated: a journal-style message with a known time.
func TestProcessDated(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := mustCompile(t, Definition{FailRegex: []string{`^bad <HOST>$`}}, Options{Now: func() time.Time { return when }})
	res := f.ProcessDated("bad 192.0.2.1", "2026-01-02 03:04:05 ", when)
	if len(res.Failures) != 1 || !res.Failures[0].Time.Equal(when) || res.Failures[0].Lines[0] != "2026-01-02 03:04:05 bad 192.0.2.1" {
		t.Fatalf("%+v", res)
	}
	// the next undated line reuses that time
	res = f.Process("bad 192.0.2.2")
	if len(res.Failures) != 1 || !res.Failures[0].Time.Equal(when) {
		t.Errorf("%+v", res)
	}
}

// TestInvalidDateKeepsLast: a date text that is no valid date (Feb 30)
// leaves the last good date in place, as fail2ban's processLine does: the
// line is dated with it while it is recent, and so is the next one.
func TestInvalidDateKeepsLast(t *testing.T) {
	now := time.Date(2026, 2, 28, 10, 0, 30, 0, time.UTC)
	good := time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		lines []string
		want  []time.Time // failure time per line
		dated []bool      // Result.HasDate per line
		text  string      // first matched line of the last failure
	}{
		{"after a good date",
			[]string{"Feb 28 10:00:00 h bad 192.0.2.1", "Feb 30 10:00:05 h bad 192.0.2.2", "Feb 31 10:00:06 h bad 192.0.2.3"},
			[]time.Time{good, good, good}, []bool{true, false, false},
			"Feb 28 10:00:00Feb 31 10:00:06 h bad 192.0.2.3"},
		{"no date before",
			[]string{"Feb 30 10:00:05 h bad 192.0.2.2"},
			[]time.Time{{}}, []bool{false},
			"Feb 30 10:00:05 h bad 192.0.2.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustCompile(t, Definition{FailRegex: []string{` bad <HOST>$`}},
				Options{Location: time.UTC, Now: func() time.Time { return now }})
			var last Failure
			for i, l := range tt.lines {
				res := f.Process(l)
				if len(res.Failures) != 1 {
					t.Fatalf("line %d: %+v", i, res)
				}
				last = res.Failures[0]
				if !last.Time.Equal(tt.want[i]) || res.HasDate != tt.dated[i] {
					t.Errorf("line %d: time %v dated %v, want %v %v", i, last.Time, res.HasDate, tt.want[i], tt.dated[i])
				}
			}
			if last.Lines[0] != tt.text {
				t.Errorf("lines %q, want %q", last.Lines, tt.text)
			}
		})
	}
}
