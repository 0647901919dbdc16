package livefile

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// newWatcher starts notifications for the file's directory. It returns a nil
// watcher when notifications are unavailable (inotify instances are limited
// per user, and every container on a node running as that user shares the
// limit); the poll alone then keeps the file current, only more slowly.
func (f *File[T]) newWatcher() (*fsnotify.Watcher, bool) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		f.log.Error(err, "File notifications are unavailable; checking on a timer only", "pollInterval", f.poll)
		return nil, false
	}
	if err := w.Add(f.dir); err != nil {
		f.log.Error(err, "Cannot watch the file's directory; checking on a timer until it can", "pollInterval", f.poll)
		return w, false
	}
	return w, true
}

// run checks the file on notifications and on every poll until ctx is done.
func (f *File[T]) run(ctx context.Context, w *fsnotify.Watcher, watching bool) {
	defer close(f.done) // deferred first so it runs last, after w.Close
	var (
		events <-chan fsnotify.Event
		errs   <-chan error
	)
	if w != nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}

	poll := time.NewTicker(f.poll)
	defer poll.Stop()
	debounce := time.NewTimer(f.debounce)
	debounce.Stop()
	defer debounce.Stop()

	// The timer is not reset by later events of a burst, so a directory that
	// never goes quiet still gets a check every Debounce.
	pending := false
	schedule := func() {
		if !pending {
			pending = true
			debounce.Reset(f.debounce)
		}
	}
	rewatch := func() {
		if w == nil || watching {
			return
		}
		if err := w.Add(f.dir); err == nil {
			watching = true
			f.log.Info("Watching the file's directory again")
		}
	}

	for {
		select {
		case <-ctx.Done():
			return

		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if filepath.Clean(ev.Name) == f.dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				// The directory itself was deleted or moved away, and inotify
				// dropped its watch with it. A directory reached through a
				// symlink into a kubelet volume (a key with a nested path)
				// goes this way on every update, and by now the path leads to
				// the new one; otherwise the poll keeps trying.
				watching = false
				f.log.Info("The file's directory went away; watching it again when it is back")
				rewatch()
			}
			if ev.Op == fsnotify.Chmod {
				continue // permissions or times only: the bytes are the same
			}
			schedule()

		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				schedule() // notifications were lost, so look
				continue
			}
			f.log.Error(err, "File notifications failed; the poll still checks")

		case <-debounce.C:
			pending = false
			f.check()

		case <-poll.C:
			rewatch()
			f.check()
		}
	}
}
