package jackctl

import "context"

// ReadContext is for the reads of a wait bounded by ctx's deadline: it is
// cancelled when ctx is done, for any reason, but carries no deadline. With
// the deadline, client-go's rate limiter refuses ahead of time a read it
// would hold past it ("would exceed context deadline") while ctx is not yet
// done, and a wait that timed out reports a failed read instead of what it
// was waiting for. Call stop when the wait is over.
func ReadContext(ctx context.Context) (read context.Context, stop func()) {
	read, cancel := context.WithCancel(context.WithoutCancel(ctx))
	unhook := context.AfterFunc(ctx, cancel)
	return read, func() { unhook(); cancel() }
}
