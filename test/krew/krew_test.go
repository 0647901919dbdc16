package krew

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// version is what the test releases: not x.y.z, so the manifest's version is
// a pre-release of the chart's (v0.1.0-krewtest), which krew must accept as
// it accepts a release's; and not dev, so that the installed binary saying
// it proves the version was stamped in.
const version = "krewtest"

// releasedPlatforms are the platforms hack/release.sh plugin builds.
var releasedPlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

// manifest is the part of a krew manifest the test reads.
type manifest struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version   string `json:"version"`
		Platforms []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

func TestTheReleaseArchiveInstallsWithKrew(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	krew := filepath.Join(root, "bin", "kubectl-krew")
	validate := filepath.Join(root, "bin", "validate-krew-manifest")
	for _, tool := range []string{krew, validate} {
		if _, err := os.Stat(tool); err != nil {
			if os.Getenv("JACK_REQUIRE_KREW") != "" {
				t.Fatalf("%s is missing and JACK_REQUIRE_KREW is set: build it with hack/build-tools.sh kubectl-krew validate-krew-manifest", tool)
			}
			t.Skipf("%s is missing (hack/build-tools.sh kubectl-krew validate-krew-manifest builds it); set JACK_REQUIRE_KREW=1 to fail instead", tool)
		}
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	if !slices.Contains(releasedPlatforms, platform) {
		t.Skipf("kubectl-jack is not released for this machine's platform, %s", platform)
	}
	archive := "kubectl-jack_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	bin := "kubectl-jack"
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}

	// The manifest's URLs point here; the --archive installs must not ask it
	// anything.
	tmp := t.TempDir()
	first := filepath.Join(tmp, "first")
	var requests atomic.Int32
	files := http.FileServer(http.Dir(first))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	release(t, root, first, platform, srv.URL)
	data, err := os.ReadFile(filepath.Join(first, archive))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	wantSum := hex.EncodeToString(sum[:])
	sums := read(t, filepath.Join(first, "SHA256SUMS"))
	if want := wantSum + "  " + archive + "\n"; sums != want {
		t.Errorf("SHA256SUMS is %q, want %q", sums, want)
	}
	manifestFile := filepath.Join(first, "jack.yaml")
	var m manifest
	if err := yaml.Unmarshal([]byte(read(t, manifestFile)), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Spec.Platforms) != 1 {
		t.Fatalf("the manifest of a %s-only release offers %d platforms, want 1: %+v", platform, len(m.Spec.Platforms), m.Spec.Platforms)
	}
	p := m.Spec.Platforms[0]
	if m.Metadata.Name != "jack" || m.Spec.Version != "v0.1.0-"+version || p.URI != srv.URL+"/"+archive || p.Sha256 != wantSum || p.Bin != bin ||
		p.Selector.MatchLabels["os"] != runtime.GOOS || p.Selector.MatchLabels["arch"] != runtime.GOARCH {
		t.Errorf("the manifest is %+v; want jack v0.1.0-%s, %s/%s, sha256 %s, bin %s", m, version, srv.URL, archive, wantSum, bin)
	}

	t.Run("a krew index's check of the manifest passes", func(t *testing.T) {
		run(t, nil, validate, "-manifest", manifestFile, "-skip-install")
	})

	krewEnv := func(krewRoot string) []string {
		return []string{
			"KREW_ROOT=" + krewRoot, "KREW_NO_UPGRADE_CHECK=1", "HOME=" + krewRoot,
			// Anything that tries the network fails at once.
			"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9", "NO_PROXY=", "http_proxy=", "https_proxy=", "no_proxy=",
		}
	}
	t.Run("krew installs the archive and the plugin says its version", func(t *testing.T) {
		krewRoot := filepath.Join(tmp, "krew")
		before := requests.Load()
		run(t, krewEnv(krewRoot), krew, "install", "--manifest="+manifestFile, "--archive="+filepath.Join(first, archive))
		if n := requests.Load() - before; n != 0 {
			t.Errorf("krew install --archive asked the manifest's download URL %d times", n)
		}
		out := run(t, nil, filepath.Join(krewRoot, "bin", bin), "version")
		if want := "kubectl-jack " + version + " ("; !strings.HasPrefix(out, want) || !strings.Contains(out, platform) {
			t.Errorf("the installed kubectl-jack version says %q, want %q... for %s", out, want, platform)
		}
		for _, f := range []string{bin, "README.md"} {
			if _, err := os.Stat(filepath.Join(krewRoot, "store", "jack", "v0.1.0-"+version, f)); err != nil {
				t.Errorf("krew did not install %s: %v", f, err)
			}
		}
	})

	t.Run("a manifest with a wrong sha256 does not install", func(t *testing.T) {
		wrong := []byte(strings.Replace(read(t, manifestFile), wantSum, flipFirst(wantSum), 1))
		dir := filepath.Join(tmp, "wrong")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		wrongFile := filepath.Join(dir, "jack.yaml")
		if err := os.WriteFile(wrongFile, wrong, 0o644); err != nil {
			t.Fatal(err)
		}
		krewRoot := filepath.Join(tmp, "krew-wrong")
		out, err := command(t, krewEnv(krewRoot), krew, "install", "--manifest="+wrongFile, "--archive="+filepath.Join(first, archive))
		if err == nil || !strings.Contains(out, "checksum does not match") {
			t.Errorf("krew install of a manifest with a wrong sha256: %v, want a checksum error:\n%s", err, out)
		}
		if _, err := os.Lstat(filepath.Join(krewRoot, "bin", bin)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("krew installed %s from a manifest with a wrong sha256 (%v)", bin, err)
		}
	})

	// What a krew index's CI runs: the check that also installs every platform
	// from its URL (here the loopback server) with `kubectl krew`, and wants a
	// LICENSE among the installed files.
	t.Run("a krew index's full check downloads the archive and wants a LICENSE", func(t *testing.T) {
		kubectl := filepath.Join(root, "bin", "kubectl")
		if _, err := os.Stat(kubectl); err != nil {
			if os.Getenv("JACK_REQUIRE_KREW") != "" {
				t.Fatalf("%s is missing and JACK_REQUIRE_KREW is set: make tools builds it (it runs kubectl krew)", kubectl)
			}
			t.Skipf("%s is missing (make tools builds it): it runs kubectl krew", kubectl)
		}
		path := filepath.Join(tmp, "path")
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{kubectl, krew} {
			if err := os.Symlink(b, filepath.Join(path, filepath.Base(b))); err != nil {
				t.Fatal(err)
			}
		}
		before := requests.Load()
		out, err := command(t, []string{"PATH=" + path + string(os.PathListSeparator) + os.Getenv("PATH")}, validate, "-manifest", manifestFile)
		if requests.Load() == before {
			t.Errorf("the full check did not download the archive from %s:\n%s", srv.URL, out)
		}
		_, statErr := os.Stat(filepath.Join(root, "LICENSE"))
		switch {
		case statErr == nil && err != nil:
			t.Errorf("the full check failed, with a LICENSE in the repository: %v\n%s", err, out)
		case statErr != nil && (err == nil || !strings.Contains(out, "LICENSE (or alike) file is not extracted")):
			t.Errorf("the repository has no LICENSE, so the full check must fail for it alone; it said %v:\n%s", err, out)
		case statErr != nil:
			t.Log("as expected, a krew index would refuse these archives until the repository has a LICENSE (hack/images packs it once it exists)")
		}
	})

	t.Run("a second build gives the same files", func(t *testing.T) {
		second := filepath.Join(tmp, "second")
		release(t, root, second, platform, srv.URL)
		for _, f := range []string{archive, "SHA256SUMS", "jack.yaml"} {
			if a, b := read(t, filepath.Join(first, f)), read(t, filepath.Join(second, f)); a != b {
				t.Errorf("two builds of the same tree gave different %s", f)
			}
		}
	})
}

// release runs hack/release.sh plugin for one platform into dir, the
// manifest's URLs under urlBase.
func release(t *testing.T, root, dir, platform, urlBase string) {
	t.Helper()
	start := time.Now()
	run(t, []string{"RELEASE_DIR=" + dir, "PLATFORMS=" + platform, "PLUGIN_URL_BASE=" + urlBase},
		filepath.Join(root, "hack", "release.sh"), "plugin", version)
	t.Logf("hack/release.sh plugin %s for %s took %s", version, platform, time.Since(start).Round(100*time.Millisecond))
}

// run runs name with env added to the test's and fails the test unless it
// exits 0; it returns the standard output.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// command runs name with env added to the test's and returns its output,
// both streams, and its error.
func command(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func read(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// flipFirst changes a hex string's first digit.
func flipFirst(s string) string {
	if s[0] == '0' {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}
