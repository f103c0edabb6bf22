package fwharness

import (
	"slices"
	"testing"
	"time"
)

func TestBansDistinct(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	list := Bans(70000, now)
	seen := map[string]bool{}
	for _, b := range list {
		if seen[b.Prefix.String()] {
			t.Fatalf("duplicate %s", b.Prefix)
		}
		seen[b.Prefix.String()] = true
		if b.Jail != Jail.Name || !b.Expires.Equal(now.Add(24*time.Hour)) {
			t.Fatalf("ban %+v: want jail %s, a day long", b, Jail.Name)
		}
	}
	if list[0].Prefix.String() != "100.64.0.1/32" || list[256].Prefix.String() != "100.64.1.1/32" {
		t.Errorf("first addresses %s, %s", list[0].Prefix, list[256].Prefix)
	}
}

func TestParseKs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		most int
		want []int
	}{
		{"10000,100000", 1 << 20, []int{10000, 100000}},
		{"5, 7", 10, []int{5, 7}},
		{"10", 10, []int{10}},
		{"11", 10, nil},
		{"0", 10, nil},
		{"x", 10, nil},
		{"1,,2", 10, nil},
	} {
		got, err := ParseKs(tc.in, tc.most, "")
		if (err == nil) != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("ParseKs(%q, %d) = %v, %v; want %v", tc.in, tc.most, got, err, tc.want)
		}
	}
}
