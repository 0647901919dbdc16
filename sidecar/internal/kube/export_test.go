package kube

import "time"

// SetTokenClock makes c's token file read the time from now, so that a test
// decides when the last read is old instead of racing the wall clock.
func SetTokenClock(c *Client, now func() time.Time) {
	c.token.mu.Lock()
	defer c.token.mu.Unlock()
	c.token.now = now
}
