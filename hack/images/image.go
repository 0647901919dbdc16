package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Files every image has besides its binary: the users its processes run as,
// for tools that look names up, and a world-writable /tmp.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" +
		"pause:x:65535:65535:pause:/:/sbin/nologin\n"
	group = "root:x:0:\nnonroot:x:65532:\npause:x:65535:\n"
)

// sbomPath is where an image keeps the SBOM of its binary.
func sbomPath(name string) string { return "/usr/share/doc/" + name + "/sbom.spdx.json" }

type builtImage struct {
	image
	index v1.ImageIndex
}

// labels are the image's org.opencontainers.image.* labels (in each config)
// and annotations (on each manifest and the index).
func labels(im image, version string, src source) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.source":      sourceURL,
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.created":     src.created.Format(time.RFC3339),
		"org.opencontainers.image.title":       im.name,
		"org.opencontainers.image.description": im.description,
		"org.opencontainers.image.licenses":    licenses,
	}
	if src.revision != "" {
		l["org.opencontainers.image.revision"] = src.revision
	}
	return l
}

// assemble makes the image index of im from its binaries.
func assemble(im image, version string, src source, platforms []v1.Platform, bins binaries) (v1.ImageIndex, error) {
	anns := labels(im, version, src)
	var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, err := platformImage(im, version, src, p, bins[p.String()][im.name], anns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	idx = mutate.Annotations(idx, anns).(v1.ImageIndex)
	// Compute it now, so that a problem shows as this image's.
	if _, err := idx.Digest(); err != nil {
		return nil, err
	}
	return idx, nil
}

func platformImage(im image, version string, src source, p v1.Platform, bin string, anns map[string]string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	sbom, err := makeSBOM(im, version, src.created, p, data)
	if err != nil {
		return nil, fmt.Errorf("the SBOM of %s: %w", bin, err)
	}
	layerTar, err := layerTar(src.created, []file{
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: im.binary[1:], mode: 0o755, data: data},
		{name: sbomPath(im.name)[1:], mode: 0o644, data: sbom},
	})
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}

	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	created := v1.Time{Time: src.created}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: p.Architecture,
		Variant:      p.Variant,
		OS:           p.OS,
		Created:      created,
		Config: v1.Config{
			User:       im.user,
			Entrypoint: []string{im.binary},
			WorkingDir: "/",
			Env:        []string{"PATH=/"},
			Labels:     anns,
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   created,
			CreatedBy: "hack/images: go build " + im.pkg,
			Comment:   "the binary, /etc/passwd, /etc/group, /tmp and the SBOM",
		},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, anns).(v1.Image), nil
}

type file struct {
	name string
	mode int64
	data []byte
}

// layerTar is an uncompressed tar of files, with their parent folders and a
// /tmp, every entry owned by root and dated t.
func layerTar(t time.Time, files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var mkdir func(string) error
	mkdir = func(d string) error {
		if d == "." || dirs[d] {
			return nil
		}
		if err := mkdir(path.Dir(d)); err != nil {
			return err
		}
		dirs[d] = true
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: t, Uname: "root", Gname: "root", Format: tar.FormatPAX})
	}
	if err := mkdir("tmp"); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := mkdir(path.Dir(f.name)); err != nil {
			return nil, err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: t, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
