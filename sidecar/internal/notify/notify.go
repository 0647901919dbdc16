// Package notify tells the sidecar's long polls that something they read
// changed: a watched view of the API server (package cluster) or a loaded
// file (package livefile). /confirm waits on it, so that a confirmation is
// answered the moment the change it waits for arrives, with no timer or
// poll.
package notify

import "sync"

// Changes tells waiters that a value changed: Next returns a channel that
// is closed at the next Notify. A waiter takes the channel before it looks
// at the value, so a change between its look and its wait still wakes it.
//
// The channel is made only when someone waits, so a value that changes
// often with nobody waiting costs no allocation per change. The zero
// Changes is ready to use.
type Changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// Next returns the channel closed at the next Notify.
func (c *Changes) Next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Notify wakes everyone waiting on a channel Next returned.
func (c *Changes) Notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}
