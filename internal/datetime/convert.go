package datetime

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrBadZone is returned by ParseZone for a zone it does not know.
var ErrBadZone = errors.New("datetime: unknown or unsupported time zone")

// zoneOffsets lists the zone abbreviations fail2ban knows, by their fixed
// UTC offset in minutes (no DST switching: CET is always +01:00).
var zoneTable = []struct {
	minutes int
	names   string
}{
	{-12 * 60, "Y"},
	{-11 * 60, "X NUT SST"},
	{-10 * 60, "W CKT HAST HST TAHT TKT"},
	{-9 * 60, "V AKST GAMT GIT HADT HNY"},
	{-8 * 60, "U AKDT CIST HAY HNP PST PT"},
	{-7 * 60, "T HAP HNR MST PDT"},
	{-6 * 60, "S CST EAST GALT HAR HNC MDT"},
	{-5 * 60, "R CDT COT EASST ECT EST ET HAC HNE PET"},
	{-4 * 60, "Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT"},
	{-3 * 60, "P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT"},
	{-2 * 60, "O BRST FNT PMDT UYST WGST"},
	{-1 * 60, "N AZOT CVT EGT"},
	{0, "Z EGST GMT UTC WET WT"},
	{1 * 60, "A CET DFT WAT WEDT WEST"},
	{2 * 60, "B CAT CEDT CEST EET SAST WAST"},
	{3 * 60, "C EAT EEDT EEST IDT MSK"},
	{4 * 60, "D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT"},
	{5 * 60, "E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT"},
	{6 * 60, "F ALMT BIOT BTT IOT KGT NOVT OMST YEKST"},
	{7 * 60, "G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB"},
	{8 * 60, "H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST"},
	{9 * 60, "I AWDT IRKST JST KST PWT TLT WDT WIT YAKT"},
	{10 * 60, "K AEST ChST PGT VLAT YAKST YAPT"},
	{11 * 60, "L AEDT LHDT MAGT NCT PONT SBT VLAST VUT"},
	{12 * 60, "M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT"},
	{13 * 60, "FJST NZDT"},
	{690, "NFT"},
	{630, "ACDT LHST"},
	{570, "ACST"},
	{390, "CCT MMT"},
	{345, "NPT"},
	{330, "SLT"},
	{270, "AFT IRDT"},
	{210, "IRST"},
	{-150, "HAT NDT"},
	{-210, "HNT NST NT"},
	{-270, "HLV VET"},
	{-570, "MART MIT"},
}

// zoneAbbrOffset returns the offset in minutes of a zone abbreviation.
func zoneAbbrOffset(abbr string) (int, bool) {
	for _, z := range zoneTable {
		for _, n := range strings.Fields(z.names) {
			if n == abbr {
				return z.minutes, true
			}
		}
	}
	return 0, false
}

// zoneMinutes parses "ABBR", "ABBR+hh[[:]mm]", "+hh[[:]mm]" or "" (UTC)
// into an offset in minutes, like fail2ban's validateTimeZone.
func zoneMinutes(s string) (int, error) {
	// The abbreviation is 1, 3, 4 or 5 upper-case ASCII letters.
	n := 0
	for n < len(s) && s[n] >= 'A' && s[n] <= 'Z' {
		n++
	}
	var abbr, off string
	switch {
	case n == 0:
		off = s
	case n == 1 || (n >= 3 && n <= 5):
		abbr, off = s[:n], s[n:]
	default:
		return 0, fmt.Errorf("%w: %q", ErrBadZone, s)
	}
	if !validOffset(off) {
		return 0, fmt.Errorf("%w: %q", ErrBadZone, s)
	}
	base := 0
	if abbr != "" {
		var ok bool
		if base, ok = zoneAbbrOffset(abbr); !ok {
			return 0, fmt.Errorf("%w: %q", ErrBadZone, s)
		}
	}
	if off == "" {
		return base, nil
	}
	sign := 1
	if off[0] == '-' {
		sign = -1
	}
	hh := int(off[1]-'0')*10 + int(off[2]-'0')
	if len(off) == 3 {
		return base + sign*hh*60, nil
	}
	mm := off[len(off)-2:]
	return base + sign*(hh*60+int(mm[0]-'0')*10+int(mm[1]-'0')), nil
}

// validOffset accepts "", "+hh", "+hhmm", "+hh:mm" with hh in 00..19.
func validOffset(s string) bool {
	switch len(s) {
	case 0:
		return true
	case 3, 5, 6:
	default:
		return false
	}
	if s[0] != '+' && s[0] != '-' || (s[1] != '0' && s[1] != '1') || !isDigitByte(s[2]) {
		return false
	}
	rest := s[3:]
	if len(rest) == 3 {
		if rest[0] != ':' {
			return false
		}
		rest = rest[1:]
	}
	for i := 0; i < len(rest); i++ {
		if !isDigitByte(rest[i]) {
			return false
		}
	}
	return true
}

// ParseZone parses a logtimezone value: "UTC", "GMT", "Z", "UTC+0200",
// "-05:00", "CET", "EST+01" ... into a fixed-offset location.
func ParseZone(s string) (*time.Location, error) {
	m, err := zoneMinutes(s)
	if err != nil {
		return nil, err
	}
	if m == 0 {
		return time.UTC, nil
	}
	return time.FixedZone(s, m*60), nil
}

// digitsValue parses a run of (possibly Unicode) decimal digits, skipping
// leading spaces as Python's int() does.
func digitsValue(s string) (int, bool) {
	s = strings.TrimLeft(s, " ")
	if s == "" || len(s) > 18 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= '0' && c <= '9' {
			v = v*10 + int(c-'0')
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.Is(unicode.Nd, r) {
			return 0, false
		}
		// Unicode decimal digits come in runs of ten starting at zero.
		zero := r
		for k := 0; k < 9 && unicode.Is(unicode.Nd, zero-1); k++ {
			zero--
		}
		v = v*10 + int(r-zero)%10
		i += size
	}
	return v, true
}

var (
	monthsFull = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	daysFull   = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
)

// nameIndex finds s (case-insensitively) in names or their 3-letter forms.
func nameIndex(s string, names []string, abbr bool) (int, bool) {
	for i, n := range names {
		if abbr {
			n = n[:3]
		}
		if len(n) == len(s) && asciiFoldEqual(s, n) {
			return i, true
		}
	}
	return 0, false
}

// julianFromWeek turns a week number (%U: weeks start Sunday, %W: Monday)
// and a weekday (0 = Monday) into a day of the year.
func julianFromWeek(year, week, weekday int, mondayFirst bool) int {
	first := (int(time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Weekday()) + 6) % 7 // 0 = Monday
	if !mondayFirst {
		first = (first + 1) % 7
		weekday = (weekday + 1) % 7
	}
	week0 := (7 - first) % 7
	if week == 0 {
		return 1 + weekday - first
	}
	return 1 + week0 + 7*(week-1) + weekday
}

// convert computes the time of the last match of a pattern template, the
// way fail2ban's strptime does (year-less stamps roll back a year when
// more than a day in the future, time-only stamps roll back a day).
func (d *Detector) convert(t *template, line string, now time.Time) (time.Time, bool) {
	// Consecutive log lines mostly carry the same stamp text, and the
	// result depends only on the template, its fields' texts and the
	// clock's second: the last conversion is kept and reused. The memo
	// keeps copies of the texts, not parts of the line: a caller may
	// reuse a line's storage once Find returned (warden regex reads its
	// log into recycled blocks).
	c := &d.conv
	sec := now.Unix()
	var vals [numFields]string
	var have [numFields]bool
	for i, f := range t.order {
		vals[i], have[i] = t.group(line, t.slots[f])
	}
	if c.valid && c.t == t && c.sec == sec && c.have == have && c.same(vals[:len(t.order)]) {
		return c.res, c.ok
	}
	res, ok := d.convertFields(t, line, now)
	c.valid, c.t, c.sec, c.have, c.res, c.ok = true, t, sec, have, res, ok
	c.text = c.text[:0]
	for i, v := range vals[:len(t.order)] {
		c.text = append(c.text, v...)
		c.ends[i] = len(c.text)
	}
	return res, ok
}

// convMemo is the last conversion a Detector made.
type convMemo struct {
	valid bool
	t     *template
	sec   int64 // now, in whole seconds
	// text holds the fields' texts one after the other, field i ending
	// at ends[i]: copies, reused from one conversion to the next
	text []byte
	ends [numFields]int
	have [numFields]bool
	res  time.Time
	ok   bool
}

// same reports whether vals are the remembered fields' texts.
func (c *convMemo) same(vals []string) bool {
	from := 0
	for i, v := range vals {
		if string(c.text[from:c.ends[i]]) != v {
			return false
		}
		from = c.ends[i]
	}
	return true
}

// convertFields is convert without the memo.
func (d *Detector) convertFields(t *template, line string, now time.Time) (time.Time, bool) {
	year, month, day := -1, -1, -1
	hour, minute, second := 0, 0, 0
	weekday, julian, week := -1, -1, -1
	weekMonday := false
	tzKnown, tzMin := false, 0
	for _, f := range t.order {
		v, ok := t.group(line, t.slots[f])
		if !ok {
			continue
		}
		var n int
		var good bool
		switch f {
		case fy:
			if n, good = digitsValue(v); good && n <= 2000 {
				n += 2000
			}
			year = n
		case fY:
			n, good = digitsValue(v)
			year = n
		case fm:
			n, good = digitsValue(v)
			month = n
		case fB, fb:
			n, good = nameIndex(v, monthsFull, f == fb)
			month = n + 1
		case fd:
			n, good = digitsValue(v)
			day = n
		case fH:
			n, good = digitsValue(v)
			hour = n
		case fI:
			n, good = digitsValue(v)
			hour = n
			ampm := ""
			if p, ok := t.group(line, t.slots[fp]); ok {
				ampm = strings.ToLower(p)
			}
			switch ampm {
			case "", "am":
				if hour == 12 {
					hour = 0
				}
			case "pm":
				if hour != 12 {
					hour += 12
				}
			}
		case fM:
			n, good = digitsValue(v)
			minute = n
		case fS:
			n, good = digitsValue(v)
			second = n
		case fA, fa:
			n, good = nameIndex(v, daysFull, f == fa)
			weekday = n
		case fw:
			n, good = digitsValue(v)
			if weekday = n - 1; weekday < 0 {
				weekday = 6
			}
		case fj:
			n, good = digitsValue(v)
			julian = n
		case fU, fW:
			n, good = digitsValue(v)
			week, weekMonday = n, f == fW
		case fz, fZ:
			good = true
			tzKnown = true
			if v == "Z" || v == "UTC" || v == "GMT" {
				tzMin = 0
			} else {
				m, err := zoneMinutes(v)
				if err != nil {
					return time.Time{}, false
				}
				tzMin = m
			}
		default:
			good = true
		}
		if !good {
			return time.Time{}, false
		}
	}
	if sec := now.Unix(); sec != d.nowSec || !d.nowValid {
		// Whole seconds suffice: parsed stamps have no fraction.
		d.nowSec, d.nowValid = sec, true
		d.nowWall = wallSec(time.Unix(sec, 0), time.Local)
		d.nowYear, d.nowMonth, d.nowDay = civilFromDays(floorDiv(d.nowWall, 86400))
	}
	nowWall := d.nowWall
	assumeYear := false
	if year < 0 {
		year = d.nowYear
		assumeYear = true
	}
	if month < 0 || day < 0 {
		if julian < 0 && week >= 0 && weekday >= 0 {
			julian = julianFromWeek(year, week, weekday, weekMonday)
		}
		if julian >= 0 {
			if year < 1 || year > 9999 {
				return time.Time{}, false
			}
			year, month, day = civilFromDays(daysFromCivil(year, 1, 1) + int64(julian) - 1)
		}
	}
	assumeToday := false
	if month < 0 && day < 0 {
		month, day = d.nowMonth, d.nowDay
		assumeToday = true
	}
	if month < 0 || day < 0 {
		return time.Time{}, false // only one of month and day: fail2ban errors out too
	}
	date, ok := naiveSec(year, month, day, hour, minute, second)
	if !ok {
		return time.Time{}, false
	}
	if !tzKnown && d.fixedLoc {
		tzKnown = true
		tzMin = int(date-d.zc.instant(date).Unix()) / 60
	}
	if tzKnown {
		date -= int64(tzMin) * 60
	}
	if assumeToday && date > nowWall {
		date -= 86400
	}
	if assumeYear && date > nowWall+86400 {
		tod := int(date - floorDiv(date, 86400)*86400)
		if date, ok = naiveSec(year-1, month, day, tod/3600, tod/60%60, tod%60); !ok {
			return time.Time{}, false
		}
	}
	if tzKnown {
		return time.Unix(date, 0), true
	}
	return d.zc.instant(date), true
}

// convertEpoch reads the number of an EPOCH/LEPOCH match.
func convertEpoch(t *template, line string) (time.Time, bool) {
	v, ok := t.group(line, t.grpIdx)
	if !ok {
		return time.Time{}, false
	}
	intPart, frac, _ := strings.Cut(v, ".")
	if len(intPart) == 0 || len(intPart) > 18 {
		return time.Time{}, false
	}
	div := 0 // decimal digits to shift left (ms: 3, us: 6)
	if t.longFrm && len(v) >= 13 {
		if len(v) >= 16 && !strings.Contains(v, ".") {
			div = 6
		} else {
			div = 3
		}
	}
	secDigits := len(intPart) - div
	if secDigits <= 0 {
		return time.Time{}, false
	}
	sec, ok1 := digitsValue(intPart[:secDigits])
	fracDigits := intPart[secDigits:] + frac
	if len(fracDigits) > 9 {
		fracDigits = fracDigits[:9]
	}
	ns := 0
	if fracDigits != "" {
		var ok2 bool
		if ns, ok2 = digitsValue(fracDigits); !ok2 {
			return time.Time{}, false
		}
		for i := len(fracDigits); i < 9; i++ {
			ns *= 10
		}
	}
	if !ok1 {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), int64(ns)), true
}

// convertTAI64N reads the seconds of a TAI64N label "@4000000..." the way
// fail2ban does (hex digits 2..16, no leap-second correction).
func convertTAI64N(t *template, line string) (time.Time, bool) {
	v, ok := t.group(line, 1)
	if !ok || len(v) < 17 {
		return time.Time{}, false
	}
	var sec int64
	for i := 2; i < 17; i++ {
		c := v[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return time.Time{}, false
		}
		sec = sec<<4 | int64(d)
	}
	return time.Unix(sec, 0), true
}
