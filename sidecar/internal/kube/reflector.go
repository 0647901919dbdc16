package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// ListWatch says which collection a Reflector keeps current.
type ListWatch struct {
	// Path is the collection's API path, like CollectionPath("auth.jack.io",
	// "v1alpha1", ns, "jackusers").
	Path string
	// LabelSelector and FieldSelector narrow the collection.
	LabelSelector, FieldSelector string
	// MinWatchTimeout: each watch asks the server to end it after a random
	// time between this and twice this, so the watches of many replicas
	// don't all end together. 0 means 5 minutes, as in client-go.
	MinWatchTimeout time.Duration
}

const defaultMinWatchTimeout = 5 * time.Minute

// watchTimeout draws one watch's timeoutSeconds.
func (lw ListWatch) watchTimeout() int {
	least := lw.MinWatchTimeout
	if least <= 0 {
		least = defaultMinWatchTimeout
	}
	return max(1, int((least+rand.N(least))/time.Second))
}

func (lw ListWatch) options(rv string) ListOptions {
	return ListOptions{LabelSelector: lw.LabelSelector, FieldSelector: lw.FieldSelector, ResourceVersion: rv}
}

// Handler receives a collection's state from a Reflector. Its methods are
// called one at a time, from the goroutine running Run, and should return
// quickly: while they run, events queue up in the connection.
type Handler[T any] interface {
	// Replace hands over the whole collection after every list: the first,
	// and each one after the watch could not resume (the history it needed
	// had expired, or a failure other than a broken connection). Objects
	// the caller holds that are not in items were deleted meanwhile.
	Replace(items []T)
	// Upsert hands over an object that was added or changed.
	Upsert(item T)
	// Delete hands over an object that was deleted, as last stored.
	Delete(item T)
}

// Status is what a Reflector tells /readyz and metrics.
type Status struct {
	// Synced is true once a list has been handed to Replace: the caller's
	// state is complete, though it may be stale if Connected is false.
	Synced bool
	// Connected is true while the reflector is in contact with the API
	// server: a list or watch succeeded and nothing failed since.
	Connected bool
	// LastContact is when the API server last answered: a list, a watch
	// opened, an event or a bookmark.
	LastContact time.Time
	// LastError is the most recent failure, as a sentence without secrets,
	// and LastErrorTime when it happened; both stay after a recovery.
	LastError     string
	LastErrorTime time.Time
	// Failures counts failed lists and watches.
	Failures uint64
	// ResourceVersion is the last version seen, where a watch resumes: the
	// last list's, then each event's and bookmark's. The Handler has been
	// handed every change up to it.
	ResourceVersion string
}

// Reflector keeps a Handler's copy of one collection current. Make one with
// NewReflector and call Run once.
type Reflector[T any] struct {
	client  *Client
	lw      ListWatch
	handler Handler[T]
	backoff backoff

	mu     sync.Mutex
	status Status
	// failing is true from a failure until the next contact; it decides
	// what is worth logging.
	failing bool
}

// NewReflector returns a reflector that keeps h current with the collection
// lw names, once it runs.
func NewReflector[T any](c *Client, lw ListWatch, h Handler[T]) *Reflector[T] {
	return &Reflector[T]{client: c, lw: lw, handler: h, backoff: backoff{initial: 200 * time.Millisecond, max: 10 * time.Second}}
}

// Status returns the reflector's status now. It is safe to call at any time.
func (r *Reflector[T]) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// errVeryShortWatch: a server (or something in between) that ends every
// watch at once would otherwise make the reflector spin.
var errVeryShortWatch = errors.New("the API server ended the watch within a second without an event")

// Run lists and watches until ctx ends, then returns ctx's error. Failures
// never end it: it tries again after a backoff, and the handler keeps its
// state meanwhile. It logs through the logger in ctx, once when it loses
// contact and once when it regains it (each retry at V(1)).
func (r *Reflector[T]) Run(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx).WithValues("collection", r.lw.Path)
	rv, needList := "", true
	for {
		var err error
		if needList {
			if rv, err = r.list(ctx, log, rv); err == nil {
				needList = false
			}
		}
		if err == nil {
			if err = r.watch(ctx, log, &rv); err == nil {
				continue // the server ended the watch; resume it
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case IsExpired(err) || isTooLargeResourceVersion(err):
			// Not a failure: the history since rv is gone, or this server
			// has not reached rv yet. Read the current state.
			log.V(1).Info("listing again from the current state", "reason", err.Error())
			rv, needList = "", true
		case IsTransport(err) && !needList:
			// The watch could not open or its connection broke. Resuming
			// from rv replays every change missed meanwhile.
			r.failed(log, err)
		default:
			r.failed(log, err)
			needList = true
		}
		if err := sleep(ctx, r.backoff.next()); err != nil {
			return err
		}
	}
}

// list hands the collection at rv or newer to Replace and returns its
// version; on failure it returns rv unchanged.
func (r *Reflector[T]) list(ctx context.Context, log logr.Logger, rv string) (string, error) {
	var l List[T]
	if err := r.client.List(ctx, r.lw.Path, r.lw.options(rv), &l); err != nil {
		return rv, err
	}
	r.handler.Replace(l.Items)
	r.contact(log, l.Metadata.ResourceVersion, true)
	return l.Metadata.ResourceVersion, nil
}

// watch hands the events after *rv to the handler, advancing *rv, until the
// watch ends. It returns nil when the server ended the watch normally.
func (r *Reflector[T]) watch(ctx context.Context, log logr.Logger, rv *string) error {
	start := time.Now()
	opts := r.lw.options(*rv)
	opts.TimeoutSeconds, opts.AllowWatchBookmarks = r.lw.watchTimeout(), true
	w, err := r.client.Watch(ctx, r.lw.Path, opts)
	if err != nil {
		return err
	}
	defer w.Close()
	r.opened(log)
	events := 0
	for {
		ev, err := w.Next()
		if err == io.EOF {
			if events == 0 && time.Since(start) < time.Second {
				return fmt.Errorf("watch %s: %w", r.lw.Path, errVeryShortWatch)
			}
			return nil
		}
		if err != nil {
			return err
		}
		events++
		if err := r.apply(ev, rv); err != nil {
			return err
		}
		r.contact(log, *rv, false)
	}
}

// objectMeta is the part of an object the reflector itself reads.
type objectMeta struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
}

// apply hands one event to the handler and advances *rv past it.
func (r *Reflector[T]) apply(ev Event, rv *string) error {
	var meta objectMeta
	if err := json.Unmarshal(ev.Object, &meta); err != nil {
		return fmt.Errorf("watch %s: decoding a %s event: %w", r.lw.Path, ev.Type, err)
	}
	if ev.Type != Bookmark {
		var item T
		if err := json.Unmarshal(ev.Object, &item); err != nil {
			return fmt.Errorf("watch %s: decoding the object of a %s event: %w", r.lw.Path, ev.Type, err)
		}
		switch ev.Type {
		case Added, Modified:
			r.handler.Upsert(item)
		case Deleted:
			r.handler.Delete(item)
		default:
			return fmt.Errorf("watch %s: unknown event type %q", r.lw.Path, ev.Type)
		}
	}
	if meta.Metadata.ResourceVersion != "" {
		*rv = meta.Metadata.ResourceVersion
	}
	return nil
}

// contact records data from the API server (a list, an event or a
// bookmark): proof enough that it works to forget past failures' backoff.
func (r *Reflector[T]) contact(log logr.Logger, rv string, listed bool) {
	r.mu.Lock()
	r.status.ResourceVersion = rv
	if listed {
		r.status.Synced = true
	}
	r.mu.Unlock()
	r.opened(log)
	r.backoff.reset()
}

// opened records an answer of the API server. A watch that opens is not yet
// reason to reset the backoff: it may break at once, again and again.
func (r *Reflector[T]) opened(log logr.Logger) {
	r.mu.Lock()
	r.status.Connected = true
	r.status.LastContact = time.Now()
	recovered := r.failing
	r.failing = false
	r.mu.Unlock()
	if recovered {
		log.Info("in contact with the API server again")
	}
}

// failed records a failure; the first of a run of them is logged as an
// error, the rest at V(1).
func (r *Reflector[T]) failed(log logr.Logger, err error) {
	r.mu.Lock()
	r.status.Connected = false
	r.status.LastError = err.Error()
	r.status.LastErrorTime = time.Now()
	r.status.Failures++
	first := !r.failing
	r.failing = true
	r.mu.Unlock()
	if first {
		log.Error(err, "cannot list or watch; the last state stays in use until this recovers")
	} else {
		log.V(1).Info("still failing", "error", err.Error())
	}
}

// backoff is an exponential backoff with jitter. It is used only by the
// goroutine running Run.
type backoff struct {
	initial, max time.Duration
	last         time.Duration
}

// next returns how long to wait: twice the last wait, from initial up to
// max, drawn from its upper half so replicas that lost the server together
// don't come back in step.
func (b *backoff) next() time.Duration {
	d := b.initial
	if b.last > 0 {
		d = min(2*b.last, b.max)
	}
	b.last = d
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.last = 0 }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
