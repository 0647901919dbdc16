package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteArchive checks the docker-archive layout that `ctr images import`
// reads: a manifest naming the tag, a config whose diff_id is the layer's
// digest, and a layer holding the binary where the entrypoint expects it.
func TestWriteArchive(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	im := image{name: "jack-echo", pkg: "./hack/jack-echo", binary: "/jack-echo", user: "65532:65532"}
	dst := filepath.Join(dir, "jack-echo.tar")
	id, err := writeArchive(dst, "jack-echo:dev", bin, im)
	if err != nil {
		t.Fatal(err)
	}
	files := readTar(t, dst)

	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 1 || len(manifest[0].RepoTags) != 1 || manifest[0].RepoTags[0] != "jack-echo:dev" || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest %+v", manifest)
	}
	config := files[manifest[0].Config]
	if sum := sha256.Sum256(config); "sha256:"+hex.EncodeToString(sum[:]) != id {
		t.Fatalf("the image ID %s is not the config's digest", id)
	}
	var cfg struct {
		Config struct {
			User       string
			Entrypoint []string
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(config, &cfg); err != nil {
		t.Fatal(err)
	}
	layer := files[manifest[0].Layers[0]]
	if sum := sha256.Sum256(layer); len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("diff_ids %v do not match the layer", cfg.RootFS.DiffIDs)
	}
	if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/jack-echo" {
		t.Fatalf("config %+v", cfg.Config)
	}

	tr := tar.NewReader(bytes.NewReader(layer))
	modes := map[string]int64{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		modes[hdr.Name] = hdr.Mode
	}
	for name, mode := range map[string]int64{"jack-echo": 0o755, "etc/passwd": 0o644, "tmp/": 0o1777} {
		if modes[name] != mode {
			t.Errorf("%s: mode %o, want %o (layer: %v)", name, modes[name], mode, modes)
		}
	}

	// The same binary gives the same image.
	again, err := writeArchive(filepath.Join(dir, "again.tar"), "jack-echo:dev", bin, im)
	if err != nil || again != id {
		t.Fatalf("a second build gave %s (%v), want %s", again, err, id)
	}
}

func readTar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = data
	}
}
