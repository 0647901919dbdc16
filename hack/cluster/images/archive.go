package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

// epoch is every timestamp in an image, so that building the same binary
// twice gives the same image.
var epoch = time.Unix(0, 0).UTC()

// Files every image has besides its binary: the users its processes run as,
// for tools that look up names, and a world-writable /tmp.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" +
		"pause:x:65535:65535:pause:/:/sbin/nologin\n"
	group = "root:x:0:\nnonroot:x:65532:\npause:x:65535:\n"
)

// writeArchive writes dst as a docker-archive (the `docker save` format:
// manifest.json, the image config and one uncompressed layer) of the image
// ref holding the binary at bin, and returns the config's digest, which is
// the image ID.
func writeArchive(dst, ref, bin string, im image) (string, error) {
	layer, err := buildLayer(bin, im.binary)
	if err != nil {
		return "", err
	}
	layerSum := sha256.Sum256(layer)
	diffID := "sha256:" + hex.EncodeToString(layerSum[:])

	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config": map[string]any{
			"User":       im.user,
			"Entrypoint": []string{im.binary},
			"WorkingDir": "/",
			"Env":        []string{"PATH=/"},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]any{{"created": epoch.Format(time.RFC3339), "created_by": "hack/cluster/images " + im.pkg}},
	})
	if err != nil {
		return "", err
	}
	configSum := sha256.Sum256(config)
	configHex := hex.EncodeToString(configSum[:])
	layerPath := hex.EncodeToString(layerSum[:]) + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   configHex + ".json",
		"RepoTags": []string{ref},
		"Layers":   []string{layerPath},
	}})
	if err != nil {
		return "", err
	}

	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{
		{configHex + ".json", config},
		{layerPath, layer},
		{"manifest.json", manifest},
	} {
		if err := writeFile(tw, e.name, 0o644, e.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return "sha256:" + configHex, os.Rename(tmp, dst)
}

// buildLayer is the image's only layer, an uncompressed tar.
func buildLayer(bin, path string) ([]byte, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dir := range []struct {
		name string
		mode int64
	}{{"etc/", 0o755}, {"tmp/", 0o1777}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir.name, Mode: dir.mode, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"etc/passwd", 0o644, []byte(passwd)},
		{"etc/group", 0o644, []byte(group)},
		{path[1:], 0o755, data},
	} {
		if err := writeFile(tw, f.name, f.mode, f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	_, err := io.Copy(tw, bytes.NewReader(data))
	return err
}
