package livefile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/jack-io/jack-operator/internal/testsupport/kubelettest"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/sidecar/internal/livefile"
)

// deadline bounds every wait. It is generous because the machine running
// the tests may be busy; a passing test never waits for it.
const deadline = 10 * time.Second

// secret is in every test file's content, and must never reach a log line or
// a status.
const secret = "s3cr3t"

// doc is what the test files parse into.
type doc struct {
	N    int
	Body string
}

var errNotADoc = errors.New("not a test document")

// parseDoc reads "<n>:<body>". Like the real parsers, its errors never quote
// what they read.
func parseDoc(data []byte) (doc, error) {
	n, body, ok := strings.Cut(string(data), ":")
	v, err := strconv.Atoi(n)
	if !ok || err != nil || body == "" {
		return doc{}, errNotADoc
	}
	return doc{N: v, Body: body}, nil
}

// version is the content of version n of a test file.
func version(n int) []byte { return fmt.Appendf(nil, "%d:%s-%d", n, secret, n) }

// garbage is a file that does not parse, different for every n.
func garbage(n int) []byte { return fmt.Appendf(nil, "garbage %s %d", secret, n) }

type reload struct {
	ok  bool
	err error
}

// harness watches a file and records everything a caller can observe.
type harness struct {
	t      *testing.T
	file   *livefile.File[doc]
	parses atomic.Int64

	mu      sync.Mutex
	reloads []reload
	logs    strings.Builder
}

// watch starts watching path with opts (Path, Parse, Log and OnReload are
// filled in; PollInterval defaults to an hour, so that only notifications
// can be what picks up a change) and stops the watcher when the test ends.
func watch(t *testing.T, path string, opts livefile.Options[doc]) *harness {
	t.Helper()
	h := &harness{t: t}
	opts.Path = path
	opts.Parse = func(data []byte) (doc, error) {
		h.parses.Add(1)
		return parseDoc(data)
	}
	opts.Log = funcr.New(func(prefix, args string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		fmt.Fprintln(&h.logs, prefix, args)
	}, funcr.Options{Verbosity: 10})
	opts.OnReload = func(ok bool, err error) {
		h.mu.Lock()
		h.reloads = append(h.reloads, reload{ok, err})
		h.mu.Unlock()
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Hour
	}

	ctx, cancel := context.WithCancel(context.Background())
	f, err := livefile.Watch(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("Watch: %v", err)
	}
	h.file = f
	t.Cleanup(func() {
		cancel()
		select {
		case <-f.Done():
		case <-time.After(deadline):
			t.Errorf("the watcher still runs %v after its context was cancelled", deadline)
		}
		if logs := h.logText(); strings.Contains(logs, secret) {
			t.Errorf("the log quotes the file:\n%s", logs)
		}
		if st := f.Status(); strings.Contains(fmt.Sprint(st), secret) {
			t.Errorf("the status quotes the file: %+v", st)
		}
	})
	return h
}

func (h *harness) logText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

func (h *harness) reloadsSoFar() []reload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]reload(nil), h.reloads...)
}

// waitFor waits until cond holds, and fails the test with the file's status
// after the deadline.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	poll.Until(h.t, deadline, what, func() error {
		if !cond() {
			return fmt.Errorf("status %+v", h.file.Status())
		}
		return nil
	})
}

// waitForVersion waits until Load returns version n.
func (h *harness) waitForVersion(n int) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("version %d", n), func() bool {
		v, ok := h.file.Load()
		return ok && v.N == n
	})
}

// waitForCheckAfter waits for a check that read the file after t0, so that
// everything done to the file before t0 has been seen.
func (h *harness) waitForCheckAfter(t0 time.Time) {
	h.t.Helper()
	h.waitFor("a check of the file", func() bool { return h.file.Status().CheckedAt.After(t0) })
}

// A layout puts version 1 of a file somewhere under dir and returns its path
// and how to replace its content.
type layout func(t *testing.T, dir string) (path string, write func(data []byte))

// kubeletVolume is a Secret volume with the file and a second key.
func kubeletVolume(t *testing.T, dir string) (string, func([]byte)) {
	vol := kubelettest.NewVolume(t, dir, map[string][]byte{"keyring.json": version(1), "JWT_SECRET": []byte("other")})
	return vol.Path("keyring.json"), func(data []byte) {
		vol.Update(map[string][]byte{"keyring.json": data, "JWT_SECRET": []byte("other")})
	}
}

// nestedKubeletVolume is a volume whose key has a nested path, so the file's
// directory is itself a link into ..data.
func nestedKubeletVolume(t *testing.T, dir string) (string, func([]byte)) {
	vol := kubelettest.NewVolume(t, dir, map[string][]byte{"policy/roles.yaml": version(1)})
	return vol.Path("policy/roles.yaml"), func(data []byte) {
		vol.Update(map[string][]byte{"policy/roles.yaml": data})
	}
}

// renamedFile is a plain file replaced by writing a copy and renaming it over
// the original, as editors and deploy scripts do.
func renamedFile(t *testing.T, dir string) (string, func([]byte)) {
	path := filepath.Join(dir, "keyring.json")
	mustWrite(t, path, version(1))
	return path, func(data []byte) {
		tmp := filepath.Join(dir, ".keyring.json.tmp")
		mustWrite(t, tmp, data)
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
}

// rewrittenFile is a plain file written in place.
func rewrittenFile(t *testing.T, dir string) (string, func([]byte)) {
	path := filepath.Join(dir, "keyring.json")
	mustWrite(t, path, version(1))
	return path, func(data []byte) { mustWrite(t, path, data) }
}

// linkedFile is a symlink into another directory, which notifications for
// the link's directory do not cover.
func linkedFile(t *testing.T, dir string) (string, func([]byte)) {
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	_, write := renamedFile(t, elsewhere)
	path := filepath.Join(dir, "keyring.json")
	if err := os.Symlink(filepath.Join(elsewhere, "keyring.json"), path); err != nil {
		t.Fatal(err)
	}
	return path, write
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
