package cluster

import "sync"

// changes tells waiters that a view changed: Next returns a channel that is
// closed at the next Notify. A waiter takes the channel before it looks at
// the view, so a change between its look and its wait still wakes it; and
// it needs no timer or poll, so a confirmation is answered the moment the
// watch delivers what it waits for.
//
// The channel is made only when someone waits, so a view that changes
// often with nobody waiting costs no allocation per change.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// Next returns the channel closed at the next Notify.
func (c *changes) Next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Notify wakes everyone waiting on a channel Next returned.
func (c *changes) Notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}
