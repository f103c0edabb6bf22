//go:build !race

package ban

const raceEnabled = false
