package jackctl

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A wait's read must not fail before the wait's deadline because a rate
// limiter would hold it past that deadline: it waits, and ends with the wait.
func TestReadContextEndsWithTheWaitButHasNoDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	read, stop := ReadContext(ctx)
	defer stop()
	if _, ok := read.Deadline(); ok {
		t.Fatal("the read context has a deadline")
	}
	// One request a minute, already spent: a limiter that must hold the
	// next read past the deadline.
	limiter := rate.NewLimiter(rate.Every(time.Minute), 1)
	limiter.Allow()
	if err := limiter.Wait(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("with the deadline, the limiter should refuse at once, before it: %v (ctx %v)", err, ctx.Err())
	}
	start := time.Now()
	err := limiter.Wait(read)
	if err == nil || ctx.Err() == nil {
		t.Fatalf("the read ended (%v) before the wait's deadline", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the read outlived the wait by %s", took)
	}
}
