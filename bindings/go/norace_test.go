//go:build !race

package streamkit

const raceEnabled = false
