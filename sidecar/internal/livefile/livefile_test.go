package livefile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/internal/testsupport/kubelettest"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/sidecar/internal/livefile"
)

func TestWatchLoadsTheFileAtStart(t *testing.T) {
	path, _ := kubeletVolume(t, t.TempDir())
	h := watch(t, path, livefile.Options[doc]{})

	v, ok := h.file.Load()
	if !ok || v != (doc{1, secret + "-1"}) {
		t.Fatalf("Load() = %+v, %v right after Watch, want version 1", v, ok)
	}
	select {
	case <-h.file.Loaded():
	default:
		t.Error("Loaded() is not closed after a good first load")
	}
	st := h.file.Status()
	if !st.Loaded || st.LoadedAt.IsZero() || len(st.Version) != 16 || st.LastError != "" || st.ConsecutiveFailures != 0 || st.Path != path {
		t.Errorf("status after a good first load = %+v", st)
	}
	if got := h.reloadsSoFar(); len(got) != 1 || !got[0].ok {
		t.Errorf("OnReload calls = %+v, want one success", got)
	}
}

func TestWatchRefusesOptionsItCannotWorkWith(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	mustWrite(t, file, version(1))
	cases := map[string]livefile.Options[doc]{
		"no path":                     {Parse: parseDoc},
		"no parse function":           {Path: file},
		"a directory that is missing": {Path: filepath.Join(dir, "missing", "keyring.json"), Parse: parseDoc},
		"a directory that is a file":  {Path: filepath.Join(file, "keyring.json"), Parse: parseDoc},
		"a negative poll interval":    {Path: file, Parse: parseDoc, PollInterval: -time.Second},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if f, err := livefile.Watch(ctx, opts); err == nil {
				cancel()
				<-f.Done()
				t.Fatal("Watch accepted the options")
			}
		})
	}
}

func TestWatchStartsNotReadyUntilAGoodFileAppears(t *testing.T) {
	cases := map[string]struct {
		setup func(t *testing.T, dir string) (path string, fix func())
	}{
		"an optional Secret that does not exist yet, so the volume is empty": {
			setup: func(t *testing.T, dir string) (string, func()) {
				return filepath.Join(dir, "keyring.json"), func() {
					kubelettest.NewVolume(t, dir, map[string][]byte{"keyring.json": version(1)})
				}
			},
		},
		"a Secret without the key yet": {
			setup: func(t *testing.T, dir string) (string, func()) {
				vol := kubelettest.NewVolume(t, dir, map[string][]byte{"JWT_SECRET": []byte("other")})
				return vol.Path("keyring.json"), func() {
					vol.Update(map[string][]byte{"JWT_SECRET": []byte("other"), "keyring.json": version(1)})
				}
			},
		},
		"a file that does not parse": {
			setup: func(t *testing.T, dir string) (string, func()) {
				vol := kubelettest.NewVolume(t, dir, map[string][]byte{"keyring.json": garbage(1)})
				return vol.Path("keyring.json"), func() {
					vol.Update(map[string][]byte{"keyring.json": version(1)})
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path, fix := tc.setup(t, t.TempDir())
			h := watch(t, path, livefile.Options[doc]{})

			if v, ok := h.file.Load(); ok {
				t.Fatalf("Load() = %+v, true without a good file", v)
			}
			select {
			case <-h.file.Loaded():
				t.Fatal("Loaded() is closed without a good file")
			default:
			}
			if st := h.file.Status(); st.Loaded || st.LastError == "" || st.ConsecutiveFailures != 1 {
				t.Errorf("status without a good file = %+v, want not loaded with the error", st)
			}
			if got := h.reloadsSoFar(); len(got) != 1 || got[0].ok || got[0].err == nil {
				t.Errorf("OnReload calls = %+v, want one failure", got)
			}

			fix()
			select {
			case <-h.file.Loaded():
			case <-time.After(deadline):
				t.Fatalf("not loaded %v after a good file appeared; status %+v", deadline, h.file.Status())
			}
			if v, ok := h.file.Load(); !ok || v.N != 1 {
				t.Errorf("Load() = %+v, %v once loaded, want version 1", v, ok)
			}
			if st := h.file.Status(); !st.Loaded || st.LastError != "" || st.ConsecutiveFailures != 0 {
				t.Errorf("status once loaded = %+v", st)
			}
		})
	}
}

func TestChangesArePickedUp(t *testing.T) {
	cases := map[string]struct {
		layout   layout
		poll     time.Duration // zero: an hour, so only notifications count
		pollOnly bool
	}{
		"kubelet swaps, by notification":            {layout: kubeletVolume},
		"kubelet swaps, by the poll alone":          {layout: kubeletVolume, poll: 50 * time.Millisecond, pollOnly: true},
		"kubelet swaps of a key with a nested path": {layout: nestedKubeletVolume},
		"a plain file replaced by rename":           {layout: renamedFile},
		"a plain file written in place":             {layout: rewrittenFile},
		"a symlink into a directory nobody watches": {layout: linkedFile, poll: 50 * time.Millisecond},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path, write := tc.layout(t, t.TempDir())
			opts := livefile.Options[doc]{PollInterval: tc.poll}
			if tc.pollOnly {
				opts = livefile.PollOnly(opts)
			}
			h := watch(t, path, opts)
			h.waitForVersion(1)
			// Several changes in a row, so a watch that works only once fails.
			for n := 2; n <= 4; n++ {
				write(version(n))
				h.waitForVersion(n)
			}
		})
	}
}

func TestChangedIsClosedByANewValueOnly(t *testing.T) {
	path, write := kubeletVolume(t, t.TempDir())
	h := watch(t, path, livefile.Options[doc]{PollInterval: 50 * time.Millisecond})
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}

	// A bad version and the same bytes again close nothing: Load still
	// returns what it did.
	changed := h.file.Changed()
	write(garbage(1))
	h.waitForCheckAfter(time.Now())
	write(version(1))
	h.waitForCheckAfter(time.Now())
	if closed(changed) {
		t.Fatal("Changed was closed although Load returns the same value")
	}

	// A swap of a new version closes it, once Load returns that version.
	write(version(2))
	select {
	case <-changed:
		if v, _ := h.file.Load(); v.N != 2 {
			t.Errorf("Changed was closed while Load returns version %d, want 2", v.N)
		}
	case <-time.After(deadline):
		t.Fatal("a new version did not close Changed")
	}
	if closed(h.file.Changed()) {
		t.Error("the channel taken after the change is closed already")
	}
}

func TestABadVersionKeepsTheLastGoodValue(t *testing.T) {
	path, write := kubeletVolume(t, t.TempDir())
	// A short poll, so the bad file is read again while the test looks.
	h := watch(t, path, livefile.Options[doc]{PollInterval: 20 * time.Millisecond})
	good := h.file.Status()
	failures := func(n int) func() bool {
		return func() bool { return h.file.Status().ConsecutiveFailures == n }
	}
	stillServesVersion1 := func(when string) {
		t.Helper()
		if v, ok := h.file.Load(); !ok || v.N != 1 {
			t.Fatalf("%s: Load() = %+v, %v, want version 1", when, v, ok)
		}
		if st := h.file.Status(); !st.Loaded || st.Version != good.Version || !st.LoadedAt.Equal(good.LoadedAt) {
			t.Fatalf("%s: status = %+v, want version %s still served", when, st, good.Version)
		}
	}

	write(garbage(1))
	h.waitFor("the first failure", failures(1))
	stillServesVersion1("after a bad version")
	st := h.file.Status()
	if !strings.Contains(st.LastError, path) || !strings.Contains(st.LastError, errNotADoc.Error()) || st.FailedAt.IsZero() {
		t.Errorf("status after a bad version = %+v, want the path and the parse error", st)
	}
	// The log names the failure, which also shows that the check every test
	// makes, that the log never quotes the file, looks at real log lines.
	if logs := h.logText(); !strings.Contains(logs, "Cannot reload file") || !strings.Contains(logs, errNotADoc.Error()) {
		t.Errorf("the log does not report the bad version:\n%s", logs)
	}
	last := h.reloadsSoFar()
	if r := last[len(last)-1]; r.ok || !errors.Is(r.err, errNotADoc) {
		t.Errorf("OnReload after a bad version got %+v, want the parse error", r)
	}

	// Polls read the same bad bytes again: one bad version is one failure.
	parses := h.parses.Load()
	h.waitForCheckAfter(time.Now())
	h.waitForCheckAfter(time.Now())
	if st := h.file.Status(); st.ConsecutiveFailures != 1 || h.parses.Load() != parses {
		t.Errorf("re-reading an unchanged bad file: %d failures, %d more parses; want 1 and 0",
			st.ConsecutiveFailures, h.parses.Load()-parses)
	}

	write(garbage(2))
	h.waitFor("the second failure", failures(2))
	stillServesVersion1("after a second bad version")

	// Back to the bytes being served: recovered, with nothing to parse.
	parses = h.parses.Load()
	write(version(1))
	h.waitFor("recovery", failures(0))
	stillServesVersion1("after going back to version 1")
	if st := h.file.Status(); st.LastError != "" || !st.FailedAt.IsZero() {
		t.Errorf("status after recovery = %+v, want no error", st)
	}
	if got := h.parses.Load() - parses; got != 0 {
		t.Errorf("going back to the served bytes parsed them %d times, want 0", got)
	}

	write(garbage(1))
	h.waitFor("a failure after recovery", failures(1))
	write(version(2))
	h.waitForVersion(2)
	if st := h.file.Status(); st.LastError != "" || st.ConsecutiveFailures != 0 || st.Version == good.Version {
		t.Errorf("status after a good version = %+v", st)
	}

	var oks []bool
	for _, r := range h.reloadsSoFar() {
		oks = append(oks, r.ok)
	}
	want := []bool{true, false, false, true, false, true}
	if !slices.Equal(oks, want) {
		t.Errorf("OnReload ok values = %v, want %v", oks, want)
	}
}

func TestUnchangedBytesAreNotParsedAgain(t *testing.T) {
	// Each setup returns the file, a change that leaves its bytes alone, and
	// how to write a real change.
	cases := map[string]struct {
		setup func(t *testing.T, dir string) (path string, change func(), write func([]byte))
	}{
		"a kubelet swap that changes only another key of the Secret": {
			setup: func(t *testing.T, dir string) (string, func(), func([]byte)) {
				vol := kubelettest.NewVolume(t, dir, map[string][]byte{"keyring.json": version(1), "JWT_SECRET": []byte("a")})
				return vol.Path("keyring.json"), func() {
						vol.Update(map[string][]byte{"keyring.json": version(1), "JWT_SECRET": []byte("b")})
					}, func(data []byte) {
						vol.Update(map[string][]byte{"keyring.json": data, "JWT_SECRET": []byte("b")})
					}
			},
		},
		"the same bytes written again in place": {
			setup: func(t *testing.T, dir string) (string, func(), func([]byte)) {
				path, write := rewrittenFile(t, dir)
				// Over the old bytes without truncating first, so no check
				// can catch the file half written.
				return path, func() {
					f, err := os.OpenFile(path, os.O_WRONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					if _, err := f.Write(version(1)); err != nil {
						t.Fatal(err)
					}
				}, write
			},
		},
		"an identical copy renamed over the file": {
			setup: func(t *testing.T, dir string) (string, func(), func([]byte)) {
				path, write := renamedFile(t, dir)
				return path, func() { write(version(1)) }, write
			},
		},
		"a touch": {
			setup: func(t *testing.T, dir string) (string, func(), func([]byte)) {
				path, write := renamedFile(t, dir)
				return path, func() {
					later := time.Now().Add(time.Hour)
					if err := os.Chtimes(path, later, later); err != nil {
						t.Fatal(err)
					}
				}, write
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path, change, write := tc.setup(t, t.TempDir())
			// A short poll, so even a change that sends no notification is
			// read before the test looks.
			h := watch(t, path, livefile.Options[doc]{PollInterval: 50 * time.Millisecond})
			loadedAt := h.file.Status().LoadedAt

			change()
			h.waitForCheckAfter(time.Now())
			if got := h.parses.Load(); got != 1 {
				t.Errorf("Parse called %d times, want only for the first load", got)
			}
			if got := h.reloadsSoFar(); len(got) != 1 {
				t.Errorf("OnReload called %d times, want only for the first load", len(got))
			}
			if st := h.file.Status(); !st.LoadedAt.Equal(loadedAt) {
				t.Errorf("LoadedAt moved from %v to %v without a change", loadedAt, st.LoadedAt)
			}

			// And the watcher still sees a real change.
			write(version(2))
			h.waitForVersion(2)
		})
	}
}

func TestAMissingFileKeepsItsValueUntilItComesBack(t *testing.T) {
	cases := map[string]struct {
		setup func(t *testing.T, dir string) (path string, remove, restore func())
	}{
		"a plain file deleted and written again": {
			setup: func(t *testing.T, dir string) (string, func(), func()) {
				path, _ := rewrittenFile(t, dir)
				return path, func() {
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
				}, func() { mustWrite(t, path, version(2)) }
			},
		},
		"a key removed from the Secret and added back": {
			setup: func(t *testing.T, dir string) (string, func(), func()) {
				vol := kubelettest.NewVolume(t, dir, map[string][]byte{"keyring.json": version(1), "JWT_SECRET": []byte("a")})
				return vol.Path("keyring.json"), func() {
						vol.Update(map[string][]byte{"JWT_SECRET": []byte("a")})
					}, func() {
						vol.Update(map[string][]byte{"keyring.json": version(2), "JWT_SECRET": []byte("a")})
					}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path, remove, restore := tc.setup(t, t.TempDir())
			h := watch(t, path, livefile.Options[doc]{})

			remove()
			h.waitFor("the missing file to be reported", func() bool { return h.file.Status().ConsecutiveFailures == 1 })
			if v, ok := h.file.Load(); !ok || v.N != 1 {
				t.Errorf("Load() = %+v, %v with the file missing, want version 1", v, ok)
			}
			if st := h.file.Status(); !st.Loaded || !strings.Contains(st.LastError, path) {
				t.Errorf("status with the file missing = %+v, want loaded, with the error", st)
			}

			restore()
			h.waitForVersion(2)
			if st := h.file.Status(); st.LastError != "" || st.ConsecutiveFailures != 0 {
				t.Errorf("status once the file is back = %+v", st)
			}
		})
	}
}

func TestReadersNeverSeeAPartialValue(t *testing.T) {
	const swaps = 200
	// Big enough that a torn read could not go unnoticed.
	want := make([]doc, swaps+1)
	content := make([][]byte, swaps+1)
	for n := 1; n <= swaps; n++ {
		body := strings.Repeat(string(rune('a'+n%26)), 8192) + secret
		want[n] = doc{N: n, Body: body}
		content[n] = []byte(strconv.Itoa(n) + ":" + body)
	}
	dir := t.TempDir()
	vol := kubelettest.NewVolume(t, dir, map[string][]byte{"keyring.json": content[1]})
	// A short debounce, so that checks run while swaps are under way.
	h := watch(t, vol.Path("keyring.json"), livefile.Options[doc]{Debounce: time.Millisecond})

	stop := make(chan struct{})
	readerDone := make(chan struct{})
	var loads, distinct int
	go func() {
		defer close(readerDone)
		last := 0
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, ok := h.file.Load()
			loads++
			switch {
			case !ok:
				t.Errorf("Load() returned nothing after the first load")
				return
			case v.N < 1 || v.N > swaps || v != want[v.N]:
				t.Errorf("Load() returned a value never written: N=%d, %d bytes of body", v.N, len(v.Body))
				return
			case v.N < last:
				t.Errorf("Load() went back from version %d to %d", last, v.N)
				return
			case v.N > last:
				distinct++
				last = v.N
			}
		}
	}()

	for n := 2; n <= swaps; n++ {
		vol.Update(map[string][]byte{"keyring.json": content[n]})
	}
	h.waitForVersion(swaps)
	close(stop)
	select {
	case <-readerDone:
	case <-time.After(deadline):
		t.Fatal("the reader did not stop")
	}
	t.Logf("%d loads saw %d distinct versions; %d parses", loads, distinct, h.parses.Load())
	// A check that resolves ..data just before a swap can look for the file
	// in the directory the swap then deletes; it must read again, not fail.
	for _, r := range h.reloadsSoFar() {
		if !r.ok {
			t.Errorf("a check failed while the kubelet swapped the file: %v", r.err)
		}
	}
}

func TestCancellingTheContextStopsTheWatcher(t *testing.T) {
	path, write := kubeletVolume(t, t.TempDir())
	before := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f, err := livefile.Watch(ctx, livefile.Options[doc]{Path: path, Parse: parseDoc, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-f.Done():
	case <-time.After(deadline):
		t.Fatalf("the watcher still runs %v after its context was cancelled", deadline)
	}
	// The goroutines (the watcher's and fsnotify's) end just after Done.
	poll.Until(t, deadline, "the watcher's goroutines end", func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("%d goroutines before Watch, %d after it stopped:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})

	// A stopped File keeps serving what it had.
	write(version(2))
	if v, ok := f.Load(); !ok || v.N != 1 {
		t.Errorf("Load() = %+v, %v after stopping, want version 1", v, ok)
	}
}

func TestLoadDoesNotAllocate(t *testing.T) {
	path, _ := kubeletVolume(t, t.TempDir())
	h := watch(t, path, livefile.Options[doc]{})
	if allocs := testing.AllocsPerRun(1000, func() { h.file.Load() }); allocs != 0 {
		t.Errorf("Load allocates %v times per call", allocs)
	}
}
