package livefile

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"

	"github.com/jack-io/jack-operator/sidecar/internal/notify"
)

const (
	// DefaultPollInterval is how often a file is checked without a
	// notification. The kubelet itself takes up to a minute or more to
	// project a changed Secret, so ten seconds more is invisible, while a
	// check (one read and one hash of a small file) costs next to nothing.
	DefaultPollInterval = 10 * time.Second

	// DefaultDebounce is how long a check waits after the first
	// notification, so that the five directory events of one kubelet swap,
	// or an editor's write in several steps, cost one read.
	DefaultDebounce = 100 * time.Millisecond
)

// Options configure Watch.
type Options[T any] struct {
	// Path is the file, as the process sees it, e.g.
	// /var/run/jack/keys/keyring.json. Its directory must exist.
	Path string

	// Parse turns the file's bytes into a value. It must depend only on the
	// bytes, and its errors must not quote them: they are logged and shown
	// in Status.
	Parse func([]byte) (T, error)

	// Log receives a line per load and per failure. The zero Logger discards.
	Log logr.Logger

	// PollInterval is how often the file is checked without a notification;
	// zero means DefaultPollInterval.
	PollInterval time.Duration

	// Debounce is how long a check waits after the first notification of a
	// burst; zero means DefaultDebounce.
	Debounce time.Duration

	// OnReload, if set, is called whenever a check finds the file changed
	// since the last check (new bytes, newly unreadable, or good again): ok
	// tells whether the value being served now matches the file, and err is
	// the failure when it does not. It is meant for metrics: it runs on the
	// watching goroutine (and once inside Watch) and must not block.
	OnReload func(ok bool, err error)

	// pollOnly turns notifications off, so tests can show that the poll
	// alone keeps a file current.
	pollOnly bool
}

// Status is what a File knows about its file, for /readyz and debugging.
// It never holds any of the file's content.
type Status struct {
	// Path is the file being watched.
	Path string

	// Loaded is true once a good version has been parsed; from then on Load
	// always returns a value.
	Loaded bool

	// LoadedAt is when the value being served was parsed.
	LoadedAt time.Time

	// Version names the bytes the value being served was parsed from: the
	// first 16 hex digits of their SHA-256. Replicas serving the same
	// version read the same file; it tells versions apart, nothing more.
	Version string

	// CheckedAt is when the file was last read, whether or not it changed.
	CheckedAt time.Time

	// LastError is the message of the latest failure to read or parse the
	// file; it is empty once a check finds the file good again.
	LastError string

	// FailedAt is when LastError happened.
	FailedAt time.Time

	// ConsecutiveFailures counts the failed versions of the file since the
	// last good one. A bad file that stays the same counts once.
	ConsecutiveFailures int
}

// File is a file's latest good parsed value, kept current by a goroutine
// that runs until the context given to Watch is done.
type File[T any] struct {
	path     string
	dir      string
	parse    func([]byte) (T, error)
	log      logr.Logger
	poll     time.Duration
	debounce time.Duration
	onReload func(ok bool, err error)

	value  atomic.Pointer[T]
	loaded chan struct{} // closed by the first good load
	// changes is notified after every new value is stored.
	changes notify.Changes
	done    chan struct{} // closed when the watching goroutine has stopped

	mu     sync.Mutex
	status Status

	// Only the checking goroutine touches these (Watch's first check runs
	// before that goroutine starts).
	parsed    [sha256.Size]byte // the bytes last given to Parse, good or bad
	hasParsed bool
	served    [sha256.Size]byte // the bytes behind the value being served
	readErr   string            // the current read failure, "" while reads work
}

// Watch loads the file at opts.Path and keeps its parsed value current until
// ctx is done. A file that is missing or bad at start is not an error: the
// File starts not ready and becomes ready when a good version appears. Watch
// fails only for bad options or a directory that does not exist.
func Watch[T any](ctx context.Context, opts Options[T]) (*File[T], error) {
	if opts.Path == "" {
		return nil, errors.New("livefile: no path to watch")
	}
	if opts.Parse == nil {
		return nil, fmt.Errorf("livefile: no parse function for %s", opts.Path)
	}
	if opts.PollInterval < 0 || opts.Debounce < 0 {
		return nil, fmt.Errorf("livefile: negative poll interval or debounce for %s", opts.Path)
	}
	path := filepath.Clean(opts.Path)
	dir := filepath.Dir(path)
	if info, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("livefile: watching %s: %w", path, err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("livefile: watching %s: %s is not a directory", path, dir)
	}

	f := &File[T]{
		path:     path,
		dir:      dir,
		parse:    opts.Parse,
		log:      opts.Log.WithValues("path", path),
		poll:     opts.PollInterval,
		debounce: opts.Debounce,
		onReload: opts.OnReload,
		loaded:   make(chan struct{}),
		done:     make(chan struct{}),
		status:   Status{Path: path},
	}
	if f.poll == 0 {
		f.poll = DefaultPollInterval
	}
	if f.debounce == 0 {
		f.debounce = DefaultDebounce
	}

	// The watch goes in before the first read, so a change between the two
	// is noticed rather than missed until the next poll.
	var w *fsnotify.Watcher
	watching := false
	if !opts.pollOnly {
		w, watching = f.newWatcher()
	}
	f.check()
	go f.run(ctx, w, watching)
	return f, nil
}

// Load returns the latest good value, and false before the first good load.
// It takes no lock and allocates nothing; the value must be treated as
// read-only, since every caller shares it.
func (f *File[T]) Load() (T, bool) {
	p := f.value.Load()
	if p == nil {
		var zero T
		return zero, false
	}
	return *p, true
}

// Status returns a snapshot of what the File knows about its file.
func (f *File[T]) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

// Loaded is closed once the first good version has been loaded, for callers
// that want to wait for readiness instead of polling Load.
func (f *File[T]) Loaded() <-chan struct{} { return f.loaded }

// Changed returns a channel closed once Load returns a newly parsed value:
// for a caller that waits until the file says something (a long poll). Take
// it before calling Load, so that a load in between is not missed. A check
// that finds the same bytes, or a bad version, closes nothing.
func (f *File[T]) Changed() <-chan struct{} { return f.changes.Next() }

// Done is closed once the watching goroutine has stopped after the context
// given to Watch is done. Load keeps returning the last value after that.
func (f *File[T]) Done() <-chan struct{} { return f.done }
