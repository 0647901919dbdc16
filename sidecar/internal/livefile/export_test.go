package livefile

// PollOnly returns opts with file notifications turned off, so a test can
// show that the poll alone keeps a file current.
func PollOnly[T any](opts Options[T]) Options[T] {
	opts.pollOnly = true
	return opts
}
