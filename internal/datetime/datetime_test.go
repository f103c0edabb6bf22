package datetime

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of the table tests: mid-June 2026, 12:30 local.
var testNow = time.Date(2026, 6, 15, 12, 30, 0, 0, time.Local)

func local(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.Local)
}

func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func TestFind(t *testing.T) {
	apacheLine := `192.168.1.10 - - [02/Jan/2026:15:04:05 +0100] "GET / HTTP/1.1" 404 5`
	tests := []struct {
		name    string
		pattern string
		line    string
		want    time.Time
		span    string // the date text Start:End must cut out
		noTime  bool   // text found but no valid date
	}{
		{name: "syslog", line: "Jan  2 15:04:05 host sshd[1]: fail", want: local(2026, 1, 2, 15, 4, 5), span: "Jan  2 15:04:05"},
		{name: "syslog two-digit day", line: "Jun 12 01:02:03 host x", want: local(2026, 6, 12, 1, 2, 3), span: "Jun 12 01:02:03"},
		{name: "syslog in the future is last year", line: "Dec 24 10:00:00 host x", want: local(2025, 12, 24, 10, 0, 0), span: "Dec 24 10:00:00"},
		{name: "syslog less than a day ahead stays", line: "Jun 16 11:00:00 host x", want: local(2026, 6, 16, 11, 0, 0), span: "Jun 16 11:00:00"},
		{name: "syslog upper case", line: "JAN 02 15:04:05 x", want: local(2026, 1, 2, 15, 4, 5), span: "JAN 02 15:04:05"},
		{name: "asctime with year", line: "Mon Jan 02 15:04:05 2006 x", want: local(2006, 1, 2, 15, 4, 5), span: "Mon Jan 02 15:04:05 2006"},
		{name: "asctime year before time", line: "Sun Jan 23 2005 21:59:59.011 x", want: local(2005, 1, 23, 21, 59, 59), span: "Sun Jan 23 2005 21:59:59.011"},
		{name: "iso with offset", line: "2026-01-02T15:04:05.123+01:00 host", want: utc(2026, 1, 2, 14, 4, 5), span: "2026-01-02T15:04:05.123+01:00"},
		{name: "iso zulu", line: "2026-01-02 15:04:05Z host", want: utc(2026, 1, 2, 15, 4, 5), span: "2026-01-02 15:04:05Z"},
		{name: "iso local", line: "2026/01/02 15:04:05,999 x", want: local(2026, 1, 2, 15, 4, 5), span: "2026/01/02 15:04:05,999"},
		{name: "iso compact", line: "20260102T150405 x", want: local(2026, 1, 2, 15, 4, 5), span: "20260102T150405"},
		{name: "apache", line: apacheLine, want: utc(2026, 1, 2, 14, 4, 5), span: "02/Jan/2026:15:04:05 +0100"},
		{name: "day-month-year", line: "23/01/2005 21:59:59 x", want: local(2005, 1, 23, 21, 59, 59), span: "23/01/2005 21:59:59"},
		{name: "two-digit year", line: "23/01/05 21:59:59 x", want: local(2005, 1, 23, 21, 59, 59), span: "23/01/05 21:59:59"},
		{name: "cpanel", line: "05/20/2008:01:57:39 x", want: local(2008, 5, 20, 1, 57, 39), span: "05/20/2008:01:57:39"},
		{name: "mysql", line: "130322 11:46:11 [Warning] x", want: local(2013, 3, 22, 11, 46, 11), span: "130322 11:46:11"},
		{name: "tomcat", line: "Jan 23, 2005 9:59:59 PM org.x", want: local(2005, 1, 23, 21, 59, 59), span: "Jan 23, 2005 9:59:59 PM"},
		{name: "assp", line: "Apr-27-13 02:33:06 [Worker_1] x", want: local(2013, 4, 27, 2, 33, 6), span: "Apr-27-13 02:33:06"},
		{name: "bracketed mdy", line: "<09/16/08@05:03:30> x", want: local(2008, 9, 16, 5, 3, 30), span: "<09/16/08@05:03:30>"},
		{name: "monit zone name", line: "PDT Apr 16 21:05:29 x", want: utc(2026, 4, 17, 4, 5, 29), span: "PDT Apr 16 21:05:29"},
		{name: "time only earlier today", line: "10:11:12 x", want: local(2026, 6, 15, 10, 11, 12), span: "10:11:12"},
		{name: "time only later is yesterday", line: "13:00:00 x", want: local(2026, 6, 14, 13, 0, 0), span: "13:00:00"},
		{name: "epoch", line: "1138215279 x", want: time.Unix(1138215279, 0), span: "1138215279"},
		{name: "epoch bracketed", line: "[1138215279.555] x", want: time.Unix(1138215279, 555e6), span: "1138215279.555"},
		{name: "epoch selinux", line: "type=USER_AUTH msg=audit(1138215279.555:42): x", want: time.Unix(1138215279, 555e6), span: "1138215279.555"},
		{name: "tai64n", line: "@4000000044e8c4b01d2a3c4f x", want: time.Unix(1156105392, 0), span: "@4000000044e8c4b01d2a3c4f"},
		{name: "invalid day", line: "Feb 30 10:00:00 host", span: "Feb 30 10:00:00", noTime: true},
		{name: "leap second", line: "2026-01-02 23:59:60 x", span: "2026-01-02 23:59:60", noTime: true},

		{name: "pattern", pattern: "%d.%m.%Y %H:%M:%S", line: "x 02.01.2026 15:04:05 y", want: local(2026, 1, 2, 15, 4, 5), span: "02.01.2026 15:04:05"},
		{name: "pattern anchored", pattern: "^%Y-%m-%d %H:%M:%S", line: "2026-01-02 15:04:05 x", want: local(2026, 1, 2, 15, 4, 5), span: "2026-01-02 15:04:05"},
		{name: "pattern anchored elsewhere", pattern: "^%Y-%m-%d %H:%M:%S", line: "x 2026-01-02 15:04:05"},
		{name: "pattern line begin", pattern: "{^LN-BEG}%Y-%m-%d %H:%M:%S", line: "[2026-01-02 15:04:05] x", want: local(2026, 1, 2, 15, 4, 5), span: "2026-01-02 15:04:05"},
		{name: "pattern word boundary", pattern: "%d/%m/%Y %H:%M:%S", line: "x;02/01/2026 15:04:05;", want: local(2026, 1, 2, 15, 4, 5), span: "02/01/2026 15:04:05"},
		{name: "pattern inside a word", pattern: "%d/%m/%Y %H:%M:%S", line: "x102/01/2026 15:04:05"},
		{name: "pattern followed by a word", pattern: "%d/%m/%Y %H:%M:%S", line: "x;02/01/2026 15:04:05y"},
		{name: "pattern julian", pattern: "%Y %j %H:%M:%S", line: "2024 060 10:00:00 x", want: local(2024, 2, 29, 10, 0, 0), span: "2024 060 10:00:00"},
		{name: "pattern 12 hour", pattern: "%I:%M:%S %p", line: "12:30:00 AM x", want: local(2026, 6, 15, 0, 30, 0), span: "12:30:00 AM"},
		{name: "pattern full names", pattern: "%A, %B %d %Y %H:%M", line: "Friday, January 02 2026 15:04 x", want: local(2026, 1, 2, 15, 4, 0), span: "Friday, January 02 2026 15:04"},
		{name: "pattern date prefix", pattern: `^\[{DATE}\]`, line: "[2026-01-02 15:04:05] x", want: local(2026, 1, 2, 15, 4, 5), span: "[2026-01-02 15:04:05]"},
		{name: "pattern epoch marker", pattern: `^\[{EPOCH}\]`, line: "[1138215279] x", want: time.Unix(1138215279, 0), span: "[1138215279]"},
		{name: "pattern long epoch", pattern: "LEPOCH", line: "1138215279123 x", want: time.Unix(1138215279, 123e6), span: "1138215279123"},
		{name: "pattern iso8601", pattern: "ISO8601", line: "2026-01-02T15:04:05.5-02:00 x", want: utc(2026, 1, 2, 17, 4, 5), span: "2026-01-02T15:04:05.5-02:00"},
		{name: "pattern regex alternative", pattern: `(?:%Y-)?%m-%d[ T]%H:%M:%S`, line: "01-02 15:04:05 x", want: local(2026, 1, 2, 15, 4, 5), span: "01-02 15:04:05"},
		{name: "pattern unbound", pattern: "{UNB}%Y%m%d%H%M%S", line: "id20260102150405", want: local(2026, 1, 2, 15, 4, 5), span: "20260102150405"},
		{name: "pattern stars", pattern: "**%H:%M:%S**", line: "a10:11:12b", want: local(2026, 6, 15, 10, 11, 12), span: "10:11:12"},
		{name: "pattern via regexp2 fallback", pattern: "(?i:AT )%Y-%m-%d %H:%M:%S", line: "é at 2026-01-02 15:04:05 y", want: local(2026, 1, 2, 15, 4, 5), span: "at 2026-01-02 15:04:05"},
		{name: "several patterns", pattern: "%d.%m.%Y %H:%M\n{^LN-BEG}", line: "Jan  2 15:04:05 host", want: local(2026, 1, 2, 15, 4, 5), span: "Jan  2 15:04:05"},
		{name: "no date", line: "pam_unix(sshd:auth): authentication failure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(Options{Pattern: tc.pattern, Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			m, ok := d.Find(tc.line)
			if tc.span == "" {
				if ok || m.Template != "" {
					t.Fatalf("found %q (%v) in %q, want nothing", tc.line[m.Start:m.End], m.Time, tc.line)
				}
				return
			}
			if got := tc.line[m.Start:m.End]; got != tc.span {
				t.Errorf("date text %q, want %q (template %s)", got, tc.span, m.Template)
			}
			if tc.noTime {
				if !ok || !m.Time.IsZero() {
					t.Errorf("got %v, %v for an invalid date; want ok and a zero time", m.Time, ok)
				}
				return
			}
			if !ok || !m.Time.Equal(tc.want) {
				t.Errorf("time %v (ok %v), want %v (template %s)", m.Time, ok, tc.want, m.Template)
			}
		})
	}
}

func TestLogTimeZone(t *testing.T) {
	loc, err := ParseZone("UTC+0200")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{Location: loc, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string
		want time.Time
	}{
		{"2026-01-02 15:04:05 x", utc(2026, 1, 2, 13, 4, 5)},       // zone-less: in logtimezone
		{"2026-01-02 15:04:05Z x", utc(2026, 1, 2, 15, 4, 5)},      // explicit zone wins
		{"2026-01-02 15:04:05 -0100 x", utc(2026, 1, 2, 16, 4, 5)}, // explicit offset wins
		{"1138215279 x", time.Unix(1138215279, 0)},                 // epoch has no zone
	} {
		m, ok := d.Find(tc.line)
		if !ok || !m.Time.Equal(tc.want) {
			t.Errorf("%q: %v (ok %v), want %v", tc.line, m.Time.UTC(), ok, tc.want)
		}
	}
}

func TestNoDatePattern(t *testing.T) {
	d, err := New(Options{Pattern: "{NONE}", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if !d.NoDate() {
		t.Fatal("NoDate() = false for {NONE}")
	}
	m, ok := d.Find("Jan  2 15:04:05 a line with a date that must be ignored")
	if !ok || m.Start != 0 || m.End != 0 || !m.Time.IsZero() {
		t.Errorf("got %+v, %v; want an empty match", m, ok)
	}
	d2, _ := New(Options{})
	if d2.NoDate() {
		t.Error("NoDate() = true for the default templates")
	}
}

func TestParseZone(t *testing.T) {
	tests := []struct {
		in      string
		offset  int // seconds east of UTC
		wantErr bool
	}{
		{in: "UTC"}, {in: "GMT"}, {in: "Z"}, {in: ""},
		{in: "UTC+0200", offset: 7200},
		{in: "UTC-05:30", offset: -(5*3600 + 1800)},
		{in: "+01", offset: 3600},
		{in: "-0100", offset: -3600},
		{in: "CET", offset: 3600},
		{in: "CEST", offset: 7200},
		{in: "EST+01", offset: -4 * 3600},
		{in: "NPT", offset: 5*3600 + 45*60},
		{in: "Europe/Paris", wantErr: true},
		{in: "AB", wantErr: true},
		{in: "XYZ", wantErr: true},
		{in: "UTC+2500", wantErr: true},
		{in: "utc", wantErr: true},
	}
	for _, tc := range tests {
		loc, err := ParseZone(tc.in)
		if tc.wantErr {
			if err == nil || !errors.Is(err, ErrBadZone) {
				t.Errorf("ParseZone(%q) = %v, %v; want ErrBadZone", tc.in, loc, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseZone(%q): %v", tc.in, err)
			continue
		}
		if _, off := time.Date(2026, 1, 1, 0, 0, 0, 0, loc).Zone(); off != tc.offset {
			t.Errorf("ParseZone(%q) offset %d, want %d", tc.in, off, tc.offset)
		}
	}
}

func TestBadPatterns(t *testing.T) {
	for _, p := range []string{
		"%q %H:%M",           // unknown directive
		"%Y-%m-%d 100%",      // lone percent
		"%Exb %d",            // not a fail2ban directive
		"(%Y-%m-%d",          // unbalanced group
		"%H:%M:%S\n%H:%M:%S", // same template twice
	} {
		if _, err := New(Options{Pattern: p}); err == nil || !errors.Is(err, ErrBadPattern) {
			t.Errorf("New(%q) error = %v, want ErrBadPattern", p, err)
		}
	}
}

func TestTemplatesListsHits(t *testing.T) {
	d, err := New(Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	list := d.Templates()
	if len(list) != 31 {
		t.Fatalf("%d default templates, want 31 (14 anchored + 17)", len(list))
	}
	if !strings.HasPrefix(list[0].Name, "{^LN-BEG}") || list[len(list)-1].Name != "TAI64N" {
		t.Errorf("unexpected order: first %q, last %q", list[0].Name, list[len(list)-1].Name)
	}
	for i := 0; i < 3; i++ {
		d.Find("x [02/Jan/2026:15:04:05 +0100] y")
	}
	hits := 0
	for _, s := range d.Templates() {
		hits += s.Hits
		if s.Hits > 0 && !strings.HasPrefix(s.Name, "Day(?P<_sep>[-/])MON") {
			t.Errorf("hit on unexpected template %q", s.Name)
		}
	}
	if hits != 3 {
		t.Errorf("%d hits in all, want 3", hits)
	}
	if first := d.Templates()[0]; first.BaseWeight != 1 || first.Weight <= 0 || first.Pattern == "" || !strings.Contains(first.Regex, "(?P<b>") {
		t.Errorf("stats of the winner: %+v", first)
	}
	if d.Templates()[1].BaseWeight != 100 {
		t.Errorf("anchored copies weigh 100, got %+v", d.Templates()[1])
	}
	if d.Templates()[0].Hits != 3 {
		t.Errorf("the winning template did not move to the front: %+v", d.Templates()[0])
	}
}

func TestHugeAndBinaryLines(t *testing.T) {
	d, err := New(Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("1:2:3 Jan 2026-01-02 [", 10<<20/22)
	start := time.Now()
	for _, line := range []string{huge, huge + "Jan  2 15:04:05", "\xff\xfe\x00Jan  2 15:04:05", "Jan\x00 2 15:04:05", "", "\xc3"} {
		m, _ := d.Find(line)
		if m.Start < 0 || m.End < m.Start || m.End > len(line) {
			t.Errorf("bad span %d:%d for a line of %d bytes", m.Start, m.End, len(line))
		}
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("huge lines took %v", el)
	}
}

func TestFallbackEngineIsUsed(t *testing.T) {
	b := builder{ymax: 2029}
	b.dirs = directives(b.ymax)
	tp, err := newPatternTemplate("(?i:AT )%H:%M", b.dirs)
	if err != nil {
		t.Fatal(err)
	}
	if tp.m != nil || tp.re2 == nil {
		t.Fatal("scoped flags should need the regexp2 fallback")
	}
	tp, err = newPatternTemplate("%H:%M", b.dirs)
	if err != nil || tp.m == nil {
		t.Fatalf("plain pattern should use the own engine: %v", err)
	}
}
