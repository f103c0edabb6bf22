package datetime

import (
	"math/rand"
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

func TestDigitRuns(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for i := 0; i < 5000; i++ {
		b := make([]byte, r.Intn(40))
		for j := range b {
			b[j] = "0123456789ab: "[r.Intn(14)]
		}
		line := string(b)
		want, run := uint8(0), 0
		for _, c := range b {
			if c >= '0' && c <= '9' {
				run++
				if run >= 8 {
					want |= needDigits8
				}
				if run >= 10 {
					want |= needDigits10
				}
			} else {
				run = 0
			}
		}
		if got := digitRuns(line); got != want {
			t.Fatalf("digitRuns(%q) = %b, want %b", line, got, want)
		}
	}
	if digitRuns("x\u0661\u0662\u0663\u0664\u0665") == 0 {
		t.Error("Arabic-Indic digits must count as a possible run")
	}
}
