package ensure

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Result says what Object wrote.
type Result string

const (
	// Unchanged: the object read already held what is wanted, and nothing was
	// written. Also the Result that comes with an error.
	Unchanged Result = "unchanged"
	// Created: there was none, and want was created.
	Created Result = "created"
	// Updated: the object read was updated with what mutate changed.
	Updated Result = "updated"
	// Replaced: the object read was deleted and want created in its place
	// (see ReplaceWhen).
	Replaced Result = "replaced"
)

// Option changes how Object writes.
type Option func(*options)

type options struct {
	what    string
	replace func(have client.Object) bool
}

// Named makes Object's errors say what it was doing to what: "creating
// <what>: …", "updating <what>: …", "replacing <what>: …". Without it the
// API server's error is returned as it is (it names the object's kind and
// name). It exists because the reconcilers' messages, which reach status
// conditions and logs, name their objects each in its own words.
func Named(what string) Option {
	return func(o *options) { o.what = what }
}

// ReplaceWhen makes Object delete the object read and create want in its
// place, instead of updating it, when immutable reports that a field an
// update cannot change differs (a RoleBinding's roleRef). The delete is
// conditional on the read object's UID, so an object someone else has
// replaced in the meantime is left alone (the delete fails with a Conflict).
// Should the create then fail, the object stays deleted until the next
// reconcile finds it missing and creates it.
func ReplaceWhen[PT client.Object](immutable func(have PT) bool) Option {
	return func(o *options) {
		o.replace = func(have client.Object) bool { return immutable(have.(PT)) }
	}
}

// Object makes an object the operator owns hold what its reconciler wants,
// given the object as the reconciler read it:
//
//   - have is nil (it was not found): want is created, as given, and
//     returned as the API server stored it.
//   - Otherwise mutate sets the wanted state on a copy of have (have itself
//     is not changed). If the copy is semantically equal to have, nothing is
//     written and have is returned; else the copy is written with have's
//     resourceVersion and returned as stored.
//
// A write that loses to a concurrent writer or a stale read fails with a
// Conflict or AlreadyExists, wrapped with %w, and nothing is overwritten;
// see the package documentation. With an error, Object returns a nil object
// and Unchanged.
func Object[T any, PT interface {
	*T
	client.Object
}](ctx context.Context, c client.Writer, have, want PT, mutate func(PT), opts ...Option) (PT, Result, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if have == nil {
		if err := c.Create(ctx, want); err != nil {
			return nil, Unchanged, o.wrap("creating", err)
		}
		return want, Created, nil
	}
	if o.replace != nil && o.replace(have) {
		err := c.Delete(ctx, have, client.Preconditions{UID: ptr.To(have.GetUID())})
		if client.IgnoreNotFound(err) != nil {
			return nil, Unchanged, o.wrap("replacing", err)
		}
		if err := c.Create(ctx, want); err != nil {
			return nil, Unchanged, o.wrap("replacing", err)
		}
		return want, Replaced, nil
	}
	updated := have.DeepCopyObject().(PT)
	mutate(updated)
	if equality.Semantic.DeepEqual(have, updated) {
		return have, Unchanged, nil
	}
	if err := c.Update(ctx, updated); err != nil {
		return nil, Unchanged, o.wrap("updating", err)
	}
	return updated, Updated, nil
}

func (o *options) wrap(doing string, err error) error {
	if o.what == "" {
		return err
	}
	return fmt.Errorf("%s %s: %w", doing, o.what, err)
}
