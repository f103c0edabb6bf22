//go:build race

package racedetect

// Enabled: the race detector is on.
const Enabled = true
