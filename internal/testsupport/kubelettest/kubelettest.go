// Package kubelettest lays out and updates a directory the way the kubelet
// projects a Secret, ConfigMap, projected or downward API volume, so tests
// can read mounted files across a real update without a kubelet.
//
// It follows AtomicWriter.Write in k8s.io/kubernetes
// pkg/volume/util/atomic_writer.go step for step (the numbers in the comments
// are that function's), leaving out only what needs a kubelet: file
// ownership (fsGroup) and Windows. After NewVolume a directory holds
//
//	..2026_11_27_02_30_00.2891023312/keyring.json   the real files
//	..data -> ..2026_11_27_02_30_00.2891023312
//	keyring.json -> ..data/keyring.json
//
// and Update swaps ..data to a new timestamped directory exactly as the
// kubelet does, so a reader sees every intermediate state a real pod would.
//
// Used by tests alone: the sidecar's and test/gateways.
package kubelettest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"

	// fileMode is the default mode of Secret and ConfigMap volume files.
	fileMode = 0o644
)

// Volume is a directory laid out as a kubelet-managed volume. Like
// AtomicWriter, it is not safe for concurrent use: update it from one
// goroutine (the test's, since failures end the test).
type Volume struct {
	t   testing.TB
	dir string
}

// NewVolume creates dir if needed and projects files into it as the
// kubelet's first write to a volume does. Keys are paths relative to the
// volume, as a Secret's data keys or a volume's items paths are.
func NewVolume(t testing.TB, dir string, files map[string][]byte) *Volume {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("kubelettest: creating volume directory: %v", err)
	}
	v := &Volume{t: t, dir: dir}
	v.Update(files)
	return v
}

// Dir is the volume's directory, where a container mounts it.
func (v *Volume) Dir() string { return v.dir }

// Path is where a container finds the file for key.
func (v *Volume) Path(key string) string { return filepath.Join(v.dir, key) }

// Update makes files the volume's whole content, as the kubelet does when the
// Secret or ConfigMap behind it changes: keys left out are removed. Like the
// kubelet, it changes nothing on disk when every file already holds the given
// bytes and no key goes away; to make a reader see a swap with its own file
// unchanged, change another key. It fails the test on any error.
func (v *Volume) Update(files map[string][]byte) {
	v.t.Helper()
	if err := v.write(files); err != nil {
		v.t.Fatalf("kubelettest: updating volume %s: %v", v.dir, err)
	}
}

// write is AtomicWriter.Write without ownership and Windows.
func (v *Volume) write(files map[string][]byte) error {
	// (1) The payload is validated, and its paths cleaned.
	payload := make(map[string][]byte, len(files))
	for p, data := range files {
		if err := validatePath(p); err != nil {
			return err
		}
		payload[filepath.Clean(p)] = data
	}

	// (2) The current timestamped directory is found through ..data.
	dataDirPath := filepath.Join(v.dir, dataDirName)
	oldTsDir, err := os.Readlink(dataDirPath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading the data directory link: %w", err)
		}
		oldTsDir = ""
	}
	oldTsPath := filepath.Join(v.dir, oldTsDir)

	var toRemove map[string]bool
	shouldWrite := true
	if oldTsDir != "" {
		// (3) Paths of the old version that the new one lacks.
		if toRemove, err = pathsToRemove(payload, oldTsPath); err != nil {
			return err
		}
		// (4) Nothing is written when nothing changed.
		should, err := shouldWritePayload(payload, oldTsPath)
		if err != nil {
			return err
		}
		if !should && len(toRemove) == 0 {
			shouldWrite = false
			oldTsDir = "" // and the current directory stays
		}
	}

	if shouldWrite {
		// (5) A new timestamped directory.
		tsDir, err := os.MkdirTemp(v.dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
		if err != nil {
			return err
		}
		if err := os.Chmod(tsDir, 0o755); err != nil {
			return err
		}
		tsDirName := filepath.Base(tsDir)

		// (6) The payload is written into it. (7, ownership, is skipped.)
		if err := writePayload(payload, tsDir); err != nil {
			return err
		}

		// (8) ..data_tmp points at it.
		newDataDirPath := filepath.Join(v.dir, newDataDirName)
		if err := os.Symlink(tsDirName, newDataDirPath); err != nil {
			_ = os.RemoveAll(tsDir)
			return fmt.Errorf("creating the symlink for the atomic update: %w", err)
		}

		// (9) The atomic swap: ..data_tmp is renamed over ..data.
		if err := os.Rename(newDataDirPath, dataDirPath); err != nil {
			_ = os.Remove(newDataDirPath)
			_ = os.RemoveAll(tsDir)
			return fmt.Errorf("renaming the data directory link: %w", err)
		}
	}

	// (10) Links for keys new to the volume.
	if err := v.createUserVisibleFiles(payload); err != nil {
		return err
	}

	// (11) Links for keys gone from the volume.
	if err := v.removeUserVisiblePaths(toRemove); err != nil {
		return err
	}

	// (12) The old timestamped directory goes.
	if oldTsDir != "" {
		if err := os.RemoveAll(oldTsPath); err != nil {
			return fmt.Errorf("removing the old data directory %s: %w", oldTsDir, err)
		}
	}
	return nil
}

// validatePath refuses what the kubelet refuses: empty or absolute paths,
// ".." elements, and a first element starting with "..", which the writer
// keeps for itself.
func validatePath(p string) error {
	if p == "" {
		return errors.New("invalid path: must not be empty")
	}
	if filepath.IsAbs(p) {
		return fmt.Errorf("invalid path %s: must be relative", p)
	}
	items := strings.Split(p, string(os.PathSeparator))
	for _, item := range items {
		if item == ".." {
			return fmt.Errorf("invalid path %s: must not contain '..'", p)
		}
	}
	if strings.HasPrefix(items[0], "..") && len(items[0]) > 2 {
		return fmt.Errorf("invalid path %s: must not start with '..'", p)
	}
	return nil
}

func shouldWritePayload(payload map[string][]byte, oldTsDir string) (bool, error) {
	for p, data := range payload {
		onDisk, err := os.ReadFile(filepath.Join(oldTsDir, p))
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if !bytes.Equal(data, onDisk) {
			return true, nil
		}
	}
	return false, nil
}

// pathsToRemove is every path under the old timestamped directory, files and
// directories, that is neither a new path nor a parent of one.
func pathsToRemove(payload map[string][]byte, oldTsDir string) (map[string]bool, error) {
	old := map[string]bool{}
	err := filepath.Walk(oldTsDir, func(path string, _ fs.FileInfo, _ error) error {
		rel := strings.TrimPrefix(strings.TrimPrefix(path, oldTsDir), string(os.PathSeparator))
		if rel != "" {
			old[rel] = true
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for p := range payload {
		for sub := p; sub != ""; {
			delete(old, sub)
			sub, _ = filepath.Split(sub)
			sub = strings.TrimSuffix(sub, string(os.PathSeparator))
		}
	}
	return old, nil
}

func writePayload(payload map[string][]byte, dir string) error {
	for p, data := range payload {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), os.ModePerm); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, fileMode); err != nil {
			return err
		}
		// The kubelet sets the mode again, since WriteFile's is masked by
		// the umask.
		if err := os.Chmod(full, fileMode); err != nil {
			return err
		}
	}
	return nil
}

// createUserVisibleFiles links each key's first path element into ..data,
// unless a link is already there: keyring.json -> ..data/keyring.json, and
// for a nested key sub/keyring.json, sub -> ..data/sub.
func (v *Volume) createUserVisibleFiles(payload map[string][]byte) error {
	for p := range payload {
		name, _, _ := strings.Cut(p, string(os.PathSeparator))
		visible := filepath.Join(v.dir, name)
		if _, err := os.Readlink(visible); err != nil && errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(filepath.Join(dataDirName, name), visible); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeUserVisiblePaths removes the links of removed keys; only top-level
// paths have links.
func (v *Volume) removeUserVisiblePaths(paths map[string]bool) error {
	var lastErr error
	for p := range paths {
		if strings.Contains(p, string(os.PathSeparator)) {
			continue
		}
		if err := os.Remove(filepath.Join(v.dir, p)); err != nil {
			lastErr = err
		}
	}
	return lastErr
}
