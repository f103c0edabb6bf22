// Package racedetect tells tests whether the race detector is on: under
// it, sync.Pool drops items on purpose and the instrumentation allocates,
// so allocation counts do not hold.
package racedetect

import "testing"

// SkipAllocs skips a test that counts allocations when the race detector
// is on.
func SkipAllocs(tb testing.TB) {
	tb.Helper()
	if Enabled {
		tb.Skip("allocation counts do not hold under the race detector")
	}
}
