package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/internal/jackctl"
)

// waitInterval is how often a wait reads the object again: the operator's
// reactions take tens of milliseconds to seconds.
const waitInterval = 250 * time.Millisecond

// defaultTimeout bounds every wait unless --timeout says otherwise.
const defaultTimeout = time.Minute

type waitFlags struct {
	wait    bool
	timeout time.Duration
}

// addFlags adds --wait and --timeout; the timeout defaults to w.timeout
// when set, else defaultTimeout.
func (w *waitFlags) addFlags(cmd *cobra.Command, waitDefault bool, waitHelp string) {
	cmd.Flags().BoolVar(&w.wait, "wait", waitDefault, waitHelp)
	cmd.Flags().DurationVar(&w.timeout, "timeout", cmp.Or(w.timeout, defaultTimeout), "How long --wait waits for the operator before giving up (exit 1)")
}

// loginTimeout is how long user add and user passwd wait by default: the
// kubelet brings the user directory to each pod a minute or more after the
// operator writes it, and only then do the sidecars log the user in.
const loginTimeout = 3 * time.Minute

func (w *waitFlags) validate() error {
	if w.timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, like 30s or 2m, not %s", w.timeout)
	}
	return nil
}

// errNotYet is what a wait's check returns while the operator has not done
// its part; the check's last error is what a timeout reports.
var errNotYet = errors.New("not yet")

// waitFor reads obj every waitInterval until done returns nil, or fails
// after timeout with done's last answer: a sentence saying what the operator
// has not done yet.
func waitFor[T client.Object](ctx context.Context, c client.Client, key types.NamespacedName, obj T, timeout time.Duration, done func(T) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(waitInterval)
	defer t.Stop()
	read, stop := jackctl.ReadContext(ctx)
	defer stop()
	var last error
	for {
		if err := c.Get(read, key, obj); err != nil {
			if ctx.Err() == nil {
				return err
			}
		} else if last = done(obj); last == nil {
			return nil
		} else if errors.As(last, new(*givingUp)) {
			return last
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("not within %s: %w", timeout, last)
		case <-t.C:
		}
	}
}

// givingUp is what a wait's check returns when waiting longer cannot help:
// the operator refused, rather than has not yet acted.
type givingUp struct{ err error }

func (g *givingUp) Error() string { return g.err.Error() }
func (g *givingUp) Unwrap() error { return g.err }

// freshRequest is a new value for a request annotation the operator acts on
// once per value (auth.jack.io/rotate, auth.jack.io/end-sessions): the
// time, which also says when it was asked.
func freshRequest(now time.Time) string {
	return "kubectl-jack-" + now.UTC().Format("20060102T150405.000000000Z")
}
