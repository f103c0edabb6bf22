package datetime

import "time"

// Zone-less ("naive") date-times as seconds since 1970-01-01 00:00 of the
// proleptic Gregorian calendar, the way Python's naive datetime values
// compare. Integer arithmetic keeps the per-line conversion cheap.

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

var monthDays = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func daysIn(year, month int) int {
	if month == 2 && isLeap(year) {
		return 29
	}
	return monthDays[month]
}

// daysFromCivil counts days from 1970-01-01 to y-m-d (civil calendar).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := int(z - era*146097)
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	y = yoe + int(era)*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// naiveSec validates the fields like Python's datetime() and returns the
// naive seconds.
func naiveSec(y, mo, d, h, mi, s int) (int64, bool) {
	if y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) ||
		h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 {
		return 0, false
	}
	return daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+s), true
}

// wallSec returns t's wall clock in loc as naive seconds.
func wallSec(t time.Time, loc *time.Location) int64 {
	_, off := t.In(loc).Zone()
	return t.Unix() + int64(off)
}

// zoneCache remembers the UTC offset of a location over one period
// between transitions, so most conversions skip the zone lookup.
type zoneCache struct {
	loc        *time.Location
	start, end int64 // naive-second bounds where off is safe to use
	off        int64
	valid      bool
}

// instant converts naive local seconds in c.loc to an instant, like
// time.Date does (which also decides ambiguous and missing wall times).
func (c *zoneCache) instant(naive int64) time.Time {
	if c.valid && naive >= c.start && naive < c.end {
		return time.Unix(naive-c.off, 0)
	}
	y, m, d := civilFromDays(floorDiv(naive, 86400))
	sec := int(naive - floorDiv(naive, 86400)*86400)
	t := time.Date(y, time.Month(m), d, sec/3600, sec/60%60, sec%60, 0, c.loc)
	_, off := t.Zone()
	ps, pe := t.ZoneBounds()
	c.off, c.valid = int64(off), true
	// Stay a day clear of transitions: near them time.Date's choice
	// between two offsets is left to it.
	c.start, c.end = -1<<62, 1<<62
	if !ps.IsZero() {
		c.start = ps.Unix() + c.off + 86400
	}
	if !pe.IsZero() {
		c.end = pe.Unix() + c.off - 86400
	}
	if naive < c.start || naive >= c.end {
		c.valid = false
	}
	return t
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
