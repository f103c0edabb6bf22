package datetime

import (
	"math/rand"
	"regexp"
	"testing"
	"time"
)

func TestCivilDays(t *testing.T) {
	for _, day := range []int64{-719162, -1, 0, 1, 59, 365, 11016, 20454, 2932896} {
		want := time.Unix(day*86400, 0).UTC()
		y, m, d := civilFromDays(day)
		if y != want.Year() || m != int(want.Month()) || d != want.Day() {
			t.Errorf("civilFromDays(%d) = %d-%d-%d, want %v", day, y, m, d, want)
		}
		if got := daysFromCivil(y, m, d); got != day {
			t.Errorf("daysFromCivil(%d, %d, %d) = %d, want %d", y, m, d, got, day)
		}
	}
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 20000; i++ {
		day := r.Int63n(2932896+719162) - 719162 // years 1..9999
		y, m, d := civilFromDays(day)
		if got := daysFromCivil(y, m, d); got != day || d > daysIn(y, m) {
			t.Fatalf("day %d -> %d-%d-%d -> %d", day, y, m, d, got)
		}
	}
}

func TestZoneCacheMatchesTimeDate(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("X", -5*3600-1800)}
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		if loc, err := time.LoadLocation(name); err == nil {
			zones = append(zones, loc)
		}
	}
	r := rand.New(rand.NewSource(5))
	for _, loc := range zones {
		c := zoneCache{loc: loc}
		for i := 0; i < 20000; i++ {
			// walk forward and back in time to exercise cache hits and misses
			naive := int64(1700000000) + r.Int63n(400*86400) - 200*86400
			y, m, d := civilFromDays(floorDiv(naive, 86400))
			s := int(naive - floorDiv(naive, 86400)*86400)
			want := time.Date(y, time.Month(m), d, s/3600, s/60%60, s%60, 0, loc)
			if got := c.instant(naive); !got.Equal(want) {
				t.Fatalf("%s: naive %d: got %v, want %v", loc, naive, got, want)
			}
		}
	}
}

func TestLineFeatures(t *testing.T) {
	ref := map[feature]*regexp.Regexp{
		needColonTime: regexp.MustCompile(`[0-9]:[0-9]`),
		needAt:        regexp.MustCompile(`@`),
		needDigits6:   regexp.MustCompile(`[0-9]{6}`),
		needDigits8:   regexp.MustCompile(`[0-9]{8}`),
		needDigits10:  regexp.MustCompile(`[0-9]{10}`),
		needMonSpace:  regexp.MustCompile(`(?i)(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) `),
		needDigitSep:  regexp.MustCompile(`[0-9][-/][0-9]`),
		needYearSep:   regexp.MustCompile(`20[0-9]{2}[-/.]`),
	}
	r := rand.New(rand.NewSource(9))
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.Intn(40))
		for j := range b {
			b[j] = "0123456789202 :/-.@JanDECmay"[r.Intn(28)]
		}
		line := string(b)
		got := lineFeatures(line)
		for f, re := range ref {
			if want := re.MatchString(line); (got&f != 0) != want {
				t.Fatalf("feature %b of %q: got %v, want %v", f, line, got&f != 0, want)
			}
		}
	}
	if lineFeatures("x\u0661\u0662\u0663\u0664\u0665")&needDigits8 == 0 {
		t.Error("Arabic-Indic digits must count as a possible run")
	}
}
