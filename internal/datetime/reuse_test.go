package datetime

import (
	"testing"
	"time"
	"unsafe"
)

// TestLineStorageReused: a caller may write a line's storage again once
// Find returned (warden regex reads its log into recycled blocks), so no
// memo may keep parts of the line. The second stamp is written over the
// first in the same bytes; an answer kept by the text it pointed to
// would come back unchanged.
func TestLineStorageReused(t *testing.T) {
	clock := time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	tests := []struct {
		name, pattern string
		first, second string
	}{
		{"syslog", "", "Nov 27 06:25:00 host sshd[1]: x", "Nov 27 06:25:01 host sshd[1]: x"},
		{"iso", "", "2026-11-27 06:25:00 host x", "2026-11-27 06:26:00 host x"},
		{"datepattern", "%Y-%m-%d %H:%M:%S", "2026-11-27 06:25:00 x", "2026-11-26 06:25:00 x"},
	}
	for _, tc := range tests {
		for _, memo := range []bool{true, false} {
			d, err := New(Options{Pattern: tc.pattern, Now: now, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			d.noStampMemo = !memo
			fresh, _ := New(Options{Pattern: tc.pattern, Now: now, Location: time.UTC})
			want, ok := fresh.Find(tc.second)
			if !ok {
				t.Fatalf("%s: no date in %q", tc.name, tc.second)
			}
			buf := []byte(tc.first)
			line := unsafe.String(unsafe.SliceData(buf), len(buf))
			if _, ok := d.Find(line); !ok {
				t.Fatalf("%s: no date in %q", tc.name, tc.first)
			}
			copy(buf, tc.second)
			got, _ := d.Find(line)
			if !got.Time.Equal(want.Time) {
				t.Errorf("%s (stamp memo %v): %q after %q in the same storage: %v, want %v", tc.name, memo, tc.second, tc.first, got.Time, want.Time)
			}
		}
	}
}
