//go:build race

package token

// raceEnabled: under the race detector sync.Pool drops a share of what it
// is given, so allocation counts mean nothing.
const raceEnabled = true
