package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPushToARealRegistry pushes the pause image's index to the registry the
// local cluster runs (distribution, bin/registry, started here on a free
// loopback port), pulls it back by tag and by digest, and checks the .env
// file the cluster scripts and the e2e tests read.
func TestPushToARealRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a real binary and runs a registry")
	}
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	registryBin := filepath.Join(root, "bin", "registry")
	if _, err := os.Stat(registryBin); err != nil {
		if os.Getenv("JACK_REQUIRE_REGISTRY") != "" {
			t.Fatalf("no %s: hack/build-tools.sh registry builds it", registryBin)
		}
		t.Skipf("no %s (hack/build-tools.sh registry builds it)", registryBin)
	}
	addr := startRegistry(t, registryBin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	todo, _ := selectImages([]string{"jack-pause", "jack-echo"})
	platforms, _ := parsePlatforms("linux/amd64,linux/arm64")
	src, err := readSource(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	bins, err := buildBinaries(ctx, root, t.TempDir(), "push-test", platforms, todo)
	if err != nil {
		t.Fatal(err)
	}
	var built []builtImage
	for _, im := range todo {
		idx, err := assemble(im, "push-test", src, platforms, bins)
		if err != nil {
			t.Fatal(err)
		}
		built = append(built, builtImage{image: im, index: idx})
	}
	registry := addr + "/jack"
	refs, err := push(ctx, registry, "push-test", false, built)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range built {
		want, _ := b.index.Digest()
		if refs[i] != registry+"/"+b.name+":push-test" {
			t.Errorf("pushed as %s", refs[i])
		}
		tag, err := name.ParseReference(refs[i])
		if err != nil {
			t.Fatal(err)
		}
		byTag, err := remote.Index(tag, remote.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := byTag.Digest(); got != want {
			t.Errorf("%s: the registry serves %s by tag, we pushed %s", b.name, got, want)
		}
		m, err := byTag.IndexManifest()
		if err != nil || len(m.Manifests) != 2 {
			t.Fatalf("%s: index %+v (%v)", b.name, m, err)
		}
		// A runtime pulls the platform's image by digest.
		byDigest, err := name.ParseReference(registry + "/" + b.name + "@" + m.Manifests[1].Digest.String())
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(byDigest, remote.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if cfg, err := img.ConfigFile(); err != nil || cfg.Architecture != "arm64" || cfg.Config.Entrypoint[0] != b.binary {
			t.Errorf("%s: by digest: %+v (%v)", byDigest, cfg, err)
		}
	}

	env := filepath.Join(t.TempDir(), "push-test.env")
	if err := writeEnv(env, "push-test", registry, built); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(env)
	echo, _ := built[1].index.Digest()
	want := fmt.Sprintf("JACK_VERSION=push-test\nJACK_REGISTRY=%s\nJACK_ECHO_DIGEST=%s\n", registry, echo)
	if string(data) != want {
		t.Errorf("the .env file is\n%s\nwant\n%s", data, want)
	}
}

// startRegistry runs bin/registry with its filesystem storage in a temporary
// folder, on a free port of 127.0.0.1, until the test ends.
func startRegistry(t *testing.T, bin string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, []byte(registryConfig(filepath.Join(dir, "storage"), addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", config)
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none") // no collector to send traces to
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("the registry's log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry did not answer at %s within 20s (%v):\n%s", addr, err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// registryConfig is the registry's configuration, as hack/cluster/config.sh
// writes it for the local cluster.
func registryConfig(storage, addr string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, storage, addr)
}
