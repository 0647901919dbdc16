package kubelettest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// tsDirPattern is the name AtomicWriter gives a timestamped directory:
// os.MkdirTemp with the prefix "..2006_01_02_15_04_05.".
var tsDirPattern = regexp.MustCompile(`^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$`)

func TestVolumeIsLaidOutAsTheKubeletDoes(t *testing.T) {
	keys := map[string][]byte{"keyring.json": []byte(`{"v":1}`), "JWT_SECRET": []byte("s1")}
	cases := map[string]struct {
		update    map[string][]byte // nil: no update after the first write
		wantSwap  bool
		wantLinks map[string]string // every top-level symlink but ..data
		wantFiles map[string]string // what a reader finds at each key
	}{
		"a new volume links every key through ..data": {
			wantLinks: map[string]string{"keyring.json": "..data/keyring.json", "JWT_SECRET": "..data/JWT_SECRET"},
			wantFiles: map[string]string{"keyring.json": `{"v":1}`, "JWT_SECRET": "s1"},
		},
		"a changed key swaps ..data to a new directory": {
			update:    map[string][]byte{"keyring.json": []byte(`{"v":2}`), "JWT_SECRET": []byte("s1")},
			wantSwap:  true,
			wantLinks: map[string]string{"keyring.json": "..data/keyring.json", "JWT_SECRET": "..data/JWT_SECRET"},
			wantFiles: map[string]string{"keyring.json": `{"v":2}`, "JWT_SECRET": "s1"},
		},
		"unchanged content changes nothing": {
			update:    map[string][]byte{"keyring.json": []byte(`{"v":1}`), "JWT_SECRET": []byte("s1")},
			wantLinks: map[string]string{"keyring.json": "..data/keyring.json", "JWT_SECRET": "..data/JWT_SECRET"},
			wantFiles: map[string]string{"keyring.json": `{"v":1}`, "JWT_SECRET": "s1"},
		},
		"an added key gets a link": {
			update:    map[string][]byte{"keyring.json": []byte(`{"v":1}`), "JWT_SECRET": []byte("s1"), "jwks.json": []byte("{}")},
			wantSwap:  true,
			wantLinks: map[string]string{"keyring.json": "..data/keyring.json", "JWT_SECRET": "..data/JWT_SECRET", "jwks.json": "..data/jwks.json"},
			wantFiles: map[string]string{"keyring.json": `{"v":1}`, "JWT_SECRET": "s1", "jwks.json": "{}"},
		},
		"a removed key loses its link even when the others are unchanged": {
			update:    map[string][]byte{"keyring.json": []byte(`{"v":1}`)},
			wantSwap:  true,
			wantLinks: map[string]string{"keyring.json": "..data/keyring.json"},
			wantFiles: map[string]string{"keyring.json": `{"v":1}`},
		},
		"a nested key links its first path element": {
			update:    map[string][]byte{"keyring.json": []byte(`{"v":1}`), "sub/policy.yaml": []byte("p")},
			wantSwap:  true,
			wantLinks: map[string]string{"keyring.json": "..data/keyring.json", "sub": "..data/sub"},
			wantFiles: map[string]string{"keyring.json": `{"v":1}`, "sub/policy.yaml": "p"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			v := NewVolume(t, dir, keys)
			before := mustReadlink(t, filepath.Join(dir, dataDirName))
			if tc.update != nil {
				v.Update(tc.update)
			}
			after := mustReadlink(t, filepath.Join(dir, dataDirName))

			if !tsDirPattern.MatchString(after) {
				t.Errorf("..data points to %q, not a timestamped directory", after)
			}
			if swapped := after != before; swapped != tc.wantSwap {
				t.Errorf("..data swapped = %v, want %v", swapped, tc.wantSwap)
			}

			// Exactly ..data, the directory it points to, and the key links:
			// no ..data_tmp left behind and no old directory.
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			want := []string{dataDirName, after}
			for link := range tc.wantLinks {
				want = append(want, link)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("volume holds %q, want %q", got, want)
			}
			for link, target := range tc.wantLinks {
				if got := mustReadlink(t, filepath.Join(dir, link)); got != target {
					t.Errorf("%s -> %s, want -> %s", link, got, target)
				}
			}
			for key, content := range tc.wantFiles {
				data, err := os.ReadFile(v.Path(key))
				if err != nil {
					t.Fatalf("reading %s: %v", key, err)
				}
				if string(data) != content {
					t.Errorf("%s holds %q, want %q", key, data, content)
				}
				info, err := os.Stat(v.Path(key))
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != fileMode {
					t.Errorf("%s has mode %v, want %v", key, info.Mode().Perm(), os.FileMode(fileMode))
				}
			}
		})
	}
}

func TestVolumeRefusesPathsTheKubeletRefuses(t *testing.T) {
	cases := map[string]string{
		"an empty path":                    "",
		"an absolute path":                 "/etc/passwd",
		"a path climbing out":              "a/../../b",
		"a path in the writer's own names": "..data",
		"a path starting with two dots":    "..keys",
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			if err := validatePath(p); err == nil {
				t.Errorf("path %q accepted", p)
			}
		})
	}
}

func mustReadlink(t *testing.T, path string) string {
	t.Helper()
	target, err := os.Readlink(path)
	if err != nil {
		t.Fatal(err)
	}
	return target
}
