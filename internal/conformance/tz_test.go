package conformance

import (
	"testing"
	"time"
)

func TestSampleZone(t *testing.T) {
	loc, err := SampleZone()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		local string
		utc   string
	}{
		// winter: UTC+1
		{"2005-01-10 12:00:00", "2005-01-10T11:00:00Z"},
		// summer: UTC+2; also the suite's "now"
		{"2005-08-14 12:00:00", "2005-08-14T10:00:00Z"},
		// the rule applies to every year, long before and after 2005
		{"1975-07-01 00:00:00", "1975-06-30T22:00:00Z"},
		{"2040-07-01 00:00:00", "2040-06-30T22:00:00Z"},
		// autumn change at 02:00 local summer time (00:00 UTC, not the EU
		// 01:00 UTC); the repeated hour resolves to standard time, as
		// mktime does. Figures from Python's time.mktime under SampleTZ.
		{"2005-10-30 00:59:59", "2005-10-29T22:59:59Z"},
		{"2005-10-30 01:59:59", "2005-10-30T00:59:59Z"},
		{"2005-10-30 02:30:00", "2005-10-30T01:30:00Z"},
		// spring gap
		{"2005-03-27 01:59:00", "2005-03-27T00:59:00Z"},
		{"2005-03-27 02:30:00", "2005-03-27T01:30:00Z"},
		{"2005-03-27 03:00:00", "2005-03-27T01:00:00Z"},
	}
	for _, tt := range tests {
		got, err := time.ParseInLocation(time.DateTime, tt.local, loc)
		if err != nil {
			t.Fatal(err)
		}
		if s := got.UTC().Format(time.RFC3339); s != tt.utc {
			t.Errorf("%s local: got %s UTC, want %s", tt.local, s, tt.utc)
		}
	}
	if got := SampleNow().UTC().Format(time.RFC3339); got != "2005-08-14T10:00:00Z" {
		t.Errorf("SampleNow = %s", got)
	}
}
