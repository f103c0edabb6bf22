package ban

import (
	"testing"
	"time"
)

func TestHealEvery(t *testing.T) {
	tests := []struct {
		interval, took, want time.Duration
	}{
		{5 * time.Second, 0, 5 * time.Second},
		{5 * time.Second, 100 * time.Millisecond, 5 * time.Second},
		{5 * time.Second, 1200 * time.Millisecond, 36 * time.Second},
		{2 * time.Minute, 2 * time.Second, 2 * time.Minute},
	}
	for _, tt := range tests {
		m := &Manager{cfg: Config{HealInterval: tt.interval}}
		m.hs.took = tt.took
		if got := m.healEvery(); got != tt.want {
			t.Errorf("interval %v, last round %v: next after %v, want %v", tt.interval, tt.took, got, tt.want)
		}
	}
}

func TestHealWait(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name           string
		now, lastFlood time.Duration // from t0; the round was due at t0
		want           time.Duration
	}{
		{"no flood yet", 0, -1 << 40, 0},
		{"quiet for a second", 2 * time.Second, time.Second, 0},
		{"a flood's batch just now", 0, 0, time.Second},
		{"a flood's batch 300 ms ago", time.Second, 700 * time.Millisecond, 700 * time.Millisecond},
		{"still flooding, 4.5 s late", 4500 * time.Millisecond, 4500 * time.Millisecond, 500 * time.Millisecond},
		{"still flooding, 4.8 s late: the cap", 4800 * time.Millisecond, 4800 * time.Millisecond, 200 * time.Millisecond},
		{"5 s late: now whatever comes", 5 * time.Second, 5 * time.Second, 0},
		{"a minute late", time.Minute, time.Minute, 0},
	}
	for _, tt := range tests {
		got := healWait(t0.Add(tt.now), t0, t0.Add(tt.lastFlood))
		if got != tt.want {
			t.Errorf("%s: wait %v, want %v", tt.name, got, tt.want)
		}
	}
}
