package livefile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// readAttempts is how many times a check reads a file that is missing before
// it believes it. See read.
const readAttempts = 3

// check reads the file and, when its bytes differ from the ones last parsed,
// parses them and serves the result if it is good. It runs on one goroutine
// at a time: inside Watch, then on the watching goroutine.
func (f *File[T]) check() {
	now := time.Now()
	// CheckedAt is published last, so whoever sees it also sees everything
	// this check did.
	defer func() {
		f.mu.Lock()
		f.status.CheckedAt = now
		f.mu.Unlock()
	}()
	data, err := f.read()

	if err != nil {
		if err.Error() == f.readErr {
			return // the same failure as the last check, already reported
		}
		f.readErr = err.Error()
		f.fail(now, err)
		return
	}
	readable := f.readErr != "" // the file was unreadable until now
	f.readErr = ""

	sum := sha256.Sum256(data)
	if f.hasParsed && sum == f.parsed && !readable {
		return // a swap of another key, a touch, or the same bytes again
	}
	f.parsed, f.hasParsed = sum, true
	if f.value.Load() != nil && sum == f.served {
		// Back to the bytes being served after a bad version or a missing
		// file: nothing to parse, only the failure to clear.
		f.succeed(now, sum, false)
		return
	}
	v, err := f.parse(data)
	if err != nil {
		f.fail(now, fmt.Errorf("parsing %s: %w", f.path, err))
		return
	}
	f.value.Store(&v)
	f.served = sum
	f.succeed(now, sum, true)
	f.changes.Notify()
}

// read reads the file, trying again at once when it is missing. A read that
// resolves ..data just before a kubelet swap can look for the file in the old
// timestamped directory just after the kubelet deleted it; by then the swap
// is done, so the next read finds the new file. A file that is really gone
// stays gone.
func (f *File[T]) read() ([]byte, error) {
	for attempt := 1; ; attempt++ {
		data, err := os.ReadFile(f.path)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == readAttempts {
			return data, err
		}
	}
}

// succeed records that the file is good: freshly parsed, or back to the
// version already being served.
func (f *File[T]) succeed(now time.Time, sum [sha256.Size]byte, parsed bool) {
	version := hex.EncodeToString(sum[:8])
	f.mu.Lock()
	first := !f.status.Loaded
	f.status.Loaded = true
	if parsed {
		f.status.LoadedAt, f.status.Version = now, version
	}
	f.status.LastError, f.status.FailedAt, f.status.ConsecutiveFailures = "", time.Time{}, 0
	f.mu.Unlock()

	if first {
		close(f.loaded)
	}
	if parsed {
		f.log.Info("Loaded file", "version", version)
	} else {
		f.log.Info("File is good again; still serving the same version", "version", version)
	}
	if f.onReload != nil {
		f.onReload(true, nil)
	}
}

// fail records a version of the file that cannot be read or parsed; the
// value being served, if any, stays.
func (f *File[T]) fail(now time.Time, err error) {
	f.mu.Lock()
	f.status.LastError, f.status.FailedAt = err.Error(), now
	f.status.ConsecutiveFailures++
	st := f.status
	f.mu.Unlock()

	// Only the message is logged: a logger may print more of an error than
	// its message (its fields, a verbose form), and the message is all that
	// Parse promises not to fill with the file's content.
	logged := errors.New(err.Error())
	if st.Loaded {
		f.log.Error(logged, "Cannot reload file; still serving the last good version",
			"version", st.Version, "consecutiveFailures", st.ConsecutiveFailures)
	} else {
		f.log.Error(logged, "Cannot load file; not ready until a good version appears",
			"consecutiveFailures", st.ConsecutiveFailures)
	}
	if f.onReload != nil {
		f.onReload(false, err)
	}
}
