//go:build race

package streamkit

// raceEnabled: the race detector keeps shadow memory and per-object history
// that it never returns, so RSS comparisons are meaningless under -race.
const raceEnabled = true
