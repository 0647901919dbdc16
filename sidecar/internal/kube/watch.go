package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// EventType is the type of a watch event.
type EventType string

// The watch event types Next returns. ERROR events come back as a
// *StatusError instead.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	// Bookmark carries only a newer metadata.resourceVersion: nothing
	// changed, but a watch resumed from it need not replay older events.
	Bookmark EventType = "BOOKMARK"

	errorEvent EventType = "ERROR"
)

// Event is one change in a watched collection. Object is the object as
// changed (as last stored, for Deleted), to be decoded by the caller.
type Event struct {
	Type   EventType       `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watchGrace is how long past its timeoutSeconds a watch may stay silent
// before the client gives up on it: the server should have ended it by
// then, so the connection is presumably dead. HTTP/2 pings usually notice
// first; this covers a connection that fell back to HTTP/1.1.
const watchGrace = 30 * time.Second

// Watcher is an open watch. Read it with Next until it returns an error,
// then Close it.
type Watcher struct {
	ctx    context.Context // the caller's: its end is not the server's fault
	cancel context.CancelFunc
	path   string
	body   io.ReadCloser
	r      *readErr
	dec    *json.Decoder
}

// Watch opens a watch on the collection at path. opts.ResourceVersion is
// where it starts; a version older than the server keeps fails with an
// error for which IsExpired is true, at once or as the first Next.
func (c *Client) Watch(ctx context.Context, path string, opts ListOptions) (*Watcher, error) {
	wctx, cancel := context.WithCancel(ctx)
	if opts.TimeoutSeconds > 0 {
		wctx, cancel = context.WithTimeout(ctx, time.Duration(opts.TimeoutSeconds)*time.Second+watchGrace)
	}
	resp, err := c.do(wctx, c.watchHTTP, "watch", http.MethodGet, path, opts.query(true), nil, "")
	if err != nil {
		cancel()
		return nil, err
	}
	r := &readErr{r: resp.Body}
	return &Watcher{ctx: ctx, cancel: cancel, path: path, body: resp.Body, r: r, dec: json.NewDecoder(r)}, nil
}

// Next waits for the next event. It returns io.EOF when the server ended
// the watch normally (its timeoutSeconds passed), a *StatusError for an
// ERROR event, a *TransportError when the connection broke, and the
// context's error when the caller's context ended.
func (w *Watcher) Next() (Event, error) {
	var ev Event
	if err := w.dec.Decode(&ev); err != nil {
		switch {
		case w.r.err != nil:
			return Event{}, transportError(w.ctx, "watch", w.path, w.r.err)
		case err == io.EOF:
			return Event{}, io.EOF
		case errors.Is(err, io.ErrUnexpectedEOF):
			return Event{}, &TransportError{Verb: "watch", Path: w.path, Err: errors.New("the stream ended in the middle of an event")}
		default:
			return Event{}, fmt.Errorf("watch %s: decoding an event: %w", w.path, err)
		}
	}
	if ev.Type == errorEvent {
		var s status
		if err := json.Unmarshal(ev.Object, &s); err != nil {
			return Event{}, fmt.Errorf("watch %s: decoding an ERROR event: %w", w.path, err)
		}
		return Event{}, s.error("watch", w.path)
	}
	return ev, nil
}

// Close ends the watch and releases its connection's stream.
func (w *Watcher) Close() error {
	w.cancel()
	return w.body.Close()
}
