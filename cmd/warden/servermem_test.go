package main

import (
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestMemLimitFor(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name             string
		live, runtimeOwn int64
		want             int64
	}{
		{"idle daemon: the floor", 5 * mib, 4 * mib, memLimitFloor},
		{"just under the floor", 17 * mib, 4 * mib, memLimitFloor},
		{"100,000 bans: a third free", 22 * mib, 6 * mib, 42 * mib},
		{"large: a third free", 300 * mib, 9 * mib, 464 * mib},
		{"rounded up to MiB", 30*mib + 1, 0, 46 * mib},
		{"nonsense readings", -1, -1, memLimitFloor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := memLimitFor(tc.live, tc.runtimeOwn)
			if got != tc.want {
				t.Errorf("memLimitFor(%d MiB, %d MiB) = %.2f MiB, want %d MiB", tc.live>>20, tc.runtimeOwn>>20, float64(got)/mib, tc.want>>20)
			}
			if got < (max(tc.live, 0)+max(tc.runtimeOwn, 0))*3/2 {
				t.Errorf("limit %d leaves less than a third free", got)
			}
		})
	}
}

// TestMemoryLimitFollows: without GOMEMLIMIT and GOGC the server sets a
// limit, keeps it after collections, and removes it at stop; with either
// set it changes nothing.
func TestMemoryLimitFollows(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	log := slog.New(slog.DiscardHandler)

	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	debug.SetMemoryLimit(math.MaxInt64)
	stop := startMemoryLimit(log)
	// Another server of this test binary may be stopping and remove the
	// limit; the next collection puts it back.
	for i := 0; i < 100 && debug.SetMemoryLimit(-1) == math.MaxInt64; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got < memLimitFloor || got == math.MaxInt64 {
		t.Fatalf("limit %d after start", got)
	}
	// A live heap above the floor raises the limit after a collection.
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = 1
	}
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) < int64(len(big)) && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got < int64(len(big))*4/3 {
		t.Errorf("limit %d MiB with %d MiB live, want at least 4/3 of it", got>>20, len(big)>>20)
	}
	runtime.KeepAlive(big)
	stop()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d after stop", got)
	}
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d set again after stop", got)
	}

	for _, env := range []struct{ name, value string }{{"GOMEMLIMIT", "1GiB"}, {"GOGC", "off"}} {
		t.Setenv("GOMEMLIMIT", "")
		t.Setenv("GOGC", "")
		t.Setenv(env.name, env.value)
		debug.SetMemoryLimit(123 << 20)
		stop = startMemoryLimit(log)
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
		if got := debug.SetMemoryLimit(-1); got != 123<<20 {
			t.Errorf("%s=%s: limit changed to %d", env.name, env.value, got)
		}
		stop()
		if got := debug.SetMemoryLimit(-1); got != 123<<20 {
			t.Errorf("%s=%s: stop changed the limit to %d", env.name, env.value, got)
		}
	}
}
