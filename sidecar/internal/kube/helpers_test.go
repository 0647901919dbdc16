package kube_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"github.com/jack-io/jack-operator/sidecar/internal/kube"
)

// store is a Handler that keeps objects by name, as a caller would, and
// records what it was told.
type store[T any] struct {
	name func(T) string

	mu       sync.Mutex
	items    map[string]T
	replaces int
	events   []string // "upsert alice", "delete bob"
}

func newStore[T any](name func(T) string) *store[T] {
	return &store[T]{name: name, items: map[string]T{}}
}

func (s *store[T]) Replace(items []T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = make(map[string]T, len(items))
	for _, it := range items {
		s.items[s.name(it)] = it
	}
	s.replaces++
}

func (s *store[T]) Upsert(item T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[s.name(item)] = item
	s.events = append(s.events, "upsert "+s.name(item))
}

func (s *store[T]) Delete(item T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, s.name(item))
	s.events = append(s.events, "delete "+s.name(item))
}

// view maps each object's name to what f says of it.
func (s *store[T]) view(f func(T) string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.items))
	for name, it := range s.items {
		out[name] = f(it)
	}
	return out
}

func (s *store[T]) counts() (replaces int, events []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replaces, slices.Clone(s.events)
}

// configMapStore keeps ConfigMaps; its view is each one's data["v"].
func configMapStore() *store[configMap] {
	return newStore(func(cm configMap) string { return cm.Metadata.Name })
}

func dataV(cm configMap) string { return cm.Data["v"] }

// holds reports whether the store's view is want, for eventually.
func holds[T any](s *store[T], f func(T) string, want map[string]string) func() bool {
	return func() bool { return maps.Equal(s.view(f), want) }
}

// run runs a reflector until the test ends, logging to the test.
func run[T any](t *testing.T, r *kube.Reflector[T]) {
	t.Helper()
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), testr.NewWithOptions(t, testr.Options{Verbosity: 1})))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v; want context.Canceled once its context ends", err)
		}
	})
}
