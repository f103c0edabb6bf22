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
