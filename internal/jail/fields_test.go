package jail

import (
	"maps"
	"testing"
)

func TestFieldListRoundTrip(t *testing.T) {
	tests := []map[string]string{
		nil,
		{"user": "root"},
		{"ip4": "192.0.2.1", "user": "", "port": "22"},
		{"odd": "a\x00b\xff", "": "empty name"},
		{"long": string(make([]byte, 300))},
	}
	for _, m := range tests {
		got := compactFields(m).toMap()
		if len(m) == 0 && got != nil {
			t.Errorf("%q: got %q, want nil", m, got)
			continue
		}
		if !maps.Equal(got, m) {
			t.Errorf("round trip of %q gave %q", m, got)
		}
	}
}

func FuzzFieldList(f *testing.F) {
	f.Add("user", "root", "ip4", "192.0.2.1")
	f.Add("", "", "\x00", "\xff\xff")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]string{k1: v1, k2: v2}
		if got := compactFields(m).toMap(); !maps.Equal(got, m) {
			t.Fatalf("round trip of %q gave %q", m, got)
		}
		// Any string decodes without panicking.
		_ = fieldList(k1 + v1).toMap()
	})
}
