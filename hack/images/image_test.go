package main

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImagesAreReproducibleAndComplete builds the sidecar and the pause image
// for both platforms twice, from the real tree with the real go build, and
// checks what a user of the images relies on: the same tree gives the same
// digests; each index has one image per platform; each config runs the
// binary as the non-root user, dated by HEAD's commit, with the OCI labels;
// the layer holds the binary, /etc/passwd, /etc/group, /tmp and the SBOM and
// nothing else; and the SBOM read back from the image describes the binary
// with its main module, the Go version, the build settings and every
// dependency with the version and hash the repository's go.sum has for it.
func TestImagesAreReproducibleAndComplete(t *testing.T) {
	if testing.Short() {
		t.Skip("builds real binaries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	todo, err := selectImages([]string{"jack-auth", "jack-pause"})
	if err != nil {
		t.Fatal(err)
	}
	platforms, err := parsePlatforms("linux/amd64,linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	const version = "1.2.3-test"
	build := func() (source, []builtImage) {
		t.Helper()
		src, err := readSource(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		bins, err := buildBinaries(ctx, root, t.TempDir(), version, platforms, todo)
		if err != nil {
			t.Fatal(err)
		}
		var built []builtImage
		for _, im := range todo {
			idx, err := assemble(im, version, src, platforms, bins)
			if err != nil {
				t.Fatal(err)
			}
			built = append(built, builtImage{image: im, index: idx})
		}
		return src, built
	}
	src, first := build()
	_, second := build()
	for i := range first {
		d1, _ := first[i].index.Digest()
		d2, _ := second[i].index.Digest()
		if d1 != d2 {
			t.Errorf("%s: two builds of the same tree gave %s and %s", first[i].name, d1, d2)
		}
	}
	wantCreated, err := git(ctx, root, "log", "-1", "--format=%cI", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if got := src.created.Format(time.RFC3339); !sameInstant(got, wantCreated) {
		t.Errorf("the images are dated %s, HEAD's commit %s", got, wantCreated)
	}

	// Read everything back from the OCI layout, as a registry client would.
	dir := filepath.Join(t.TempDir(), "layout")
	if err := writeLayout(dir, version, first); err != nil {
		t.Fatal(err)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	topManifest, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	goSum := readGoSum(t, filepath.Join(root, "go.sum"))
	for i, im := range todo {
		desc := topManifest.Manifests[i]
		if ref := desc.Annotations["org.opencontainers.image.ref.name"]; ref != im.name+":"+version {
			t.Errorf("the layout names index %d %q, want %s:%s", i, ref, im.name, version)
		}
		idx, err := top.ImageIndex(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		checkIndex(t, im, version, src, idx, goSum)
	}
}

func sameInstant(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339, a)
	tb, err2 := time.Parse(time.RFC3339, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

func checkIndex(t *testing.T, im image, version string, src source, idx v1.ImageIndex, goSum map[string]string) {
	t.Helper()
	mt, _ := idx.MediaType()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if mt != types.OCIImageIndex || len(m.Manifests) != 2 {
		t.Fatalf("%s: a %s with %d manifests, want an OCI index with 2", im.name, mt, len(m.Manifests))
	}
	wantLabels := labels(im, version, src)
	for k, v := range wantLabels {
		if m.Annotations[k] != v {
			t.Errorf("%s: index annotation %s=%q, want %q", im.name, k, m.Annotations[k], v)
		}
	}
	for _, key := range []string{"source", "revision", "version", "created", "title", "description", "licenses"} {
		if wantLabels["org.opencontainers.image."+key] == "" {
			t.Errorf("%s: no org.opencontainers.image.%s label", im.name, key)
		}
	}
	var archs []string
	for _, desc := range m.Manifests {
		archs = append(archs, desc.Platform.Architecture)
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		manifest, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if manifest.Annotations["org.opencontainers.image.version"] != version || manifest.Annotations["org.opencontainers.image.revision"] != src.revision {
			t.Errorf("%s %s: manifest annotations %v", im.name, desc.Platform, manifest.Annotations)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OS != "linux" || cfg.Architecture != desc.Platform.Architecture {
			t.Errorf("%s: the config of the %s image says %s/%s", im.name, desc.Platform, cfg.OS, cfg.Architecture)
		}
		if cfg.Config.User != im.user || !slices.Equal(cfg.Config.Entrypoint, []string{im.binary}) {
			t.Errorf("%s %s: runs %v as %q, want [%s] as %s", im.name, desc.Platform, cfg.Config.Entrypoint, cfg.Config.User, im.binary, im.user)
		}
		if strings.HasPrefix(cfg.Config.User, "0") || cfg.Config.User == "" {
			t.Errorf("%s: runs as root", im.name)
		}
		for k, v := range wantLabels {
			if cfg.Config.Labels[k] != v {
				t.Errorf("%s %s: config label %s=%q, want %q", im.name, desc.Platform, k, cfg.Config.Labels[k], v)
			}
		}
		if !cfg.Created.Time.Equal(src.created) {
			t.Errorf("%s: created %s, want %s", im.name, cfg.Created, src.created)
		}
		files := layerFiles(t, img)
		var names []string
		for name := range files {
			names = append(names, name)
		}
		slices.Sort(names)
		want := []string{"etc/", "etc/group", "etc/passwd", im.binary[1:], "tmp/", "usr/", "usr/share/", "usr/share/doc/",
			"usr/share/doc/" + im.name + "/", sbomPath(im.name)[1:]}
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("%s: the layer holds %q, want %q", im.name, names, want)
		}
		if !strings.Contains(string(files["etc/passwd"]), ":"+strings.Split(im.user, ":")[0]+":") {
			t.Errorf("%s: /etc/passwd does not name user %s:\n%s", im.name, im.user, files["etc/passwd"])
		}
		checkSBOM(t, im, version, src.revision, desc.Platform, files[im.binary[1:]], files[sbomPath(im.name)[1:]], goSum)
	}
	slices.Sort(archs)
	if !slices.Equal(archs, []string{"amd64", "arm64"}) {
		t.Errorf("%s: platforms %v", im.name, archs)
	}
}

func checkSBOM(t *testing.T, im image, version, revision string, p *v1.Platform, binary, sbom []byte, goSum map[string]string) {
	t.Helper()
	var doc spdxDocument
	if err := json.Unmarshal(sbom, &doc); err != nil {
		t.Fatalf("%s %s: the SBOM is not JSON: %v", im.name, p, err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.SPDXID != "SPDXRef-DOCUMENT" || doc.DataLicense != "CC0-1.0" || doc.DocumentNamespace == "" {
		t.Errorf("%s: not an SPDX 2.3 document: %+v", im.name, doc.CreationInfo)
	}
	byName := map[string]spdxPackage{}
	for _, pkg := range doc.Packages {
		byName[pkg.Name] = pkg
	}
	sum := sha256.Sum256(binary)
	bin := byName[im.binary[1:]]
	if len(bin.Checksums) != 1 || bin.Checksums[0].Value != hex.EncodeToString(sum[:]) {
		t.Errorf("%s: the SBOM's checksum of the binary is %v, the binary's is %x", im.name, bin.Checksums, sum)
	}
	settings := map[string]string{}
	for _, a := range bin.Annotations {
		if kv, ok := strings.CutPrefix(a.Comment, buildSettingPrefix); ok {
			k, v, _ := strings.Cut(kv, "=")
			settings[k] = v
		}
	}
	// Go stamps the commit only where .git is a directory: not in a git
	// worktree, whose .git is a file (cmd/go's VCS lookup).
	if root, err := findRoot(); err != nil {
		t.Fatal(err)
	} else if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		revision = ""
	}
	if settings["CGO_ENABLED"] != "0" || settings["GOARCH"] != p.Architecture || settings["-trimpath"] != "true" ||
		!strings.Contains(settings["-ldflags"], versionVar+"="+version) || settings["vcs.revision"] != revision {
		t.Errorf("%s %s: the SBOM's build settings are %v", im.name, p, settings)
	}
	if byName[modulePath].VersionInfo != version {
		t.Errorf("%s: the SBOM has the main module %+v", im.name, byName[modulePath])
	}
	if std := byName["stdlib"]; std.VersionInfo != runtime.Version() {
		t.Errorf("%s: the SBOM says Go %q, this toolchain is %s", im.name, std.VersionInfo, runtime.Version())
	}
	deps := 0
	for _, pkg := range doc.Packages {
		if !strings.HasPrefix(pkg.SPDXID, "SPDXRef-Package-go-") {
			continue
		}
		deps++
		h1, ok := goSum[pkg.Name+" "+pkg.VersionInfo]
		if !ok {
			t.Errorf("%s: the SBOM lists %s %s, which go.sum does not have", im.name, pkg.Name, pkg.VersionInfo)
			continue
		}
		if c, _ := h1Checksum(h1); len(pkg.Checksums) != 1 || pkg.Checksums[0] != c {
			t.Errorf("%s: the SBOM's checksum of %s %s is %v; go.sum's %s is %v", im.name, pkg.Name, pkg.VersionInfo, pkg.Checksums, h1, c)
		}
	}
	// The sidecar links the JWT library, Prometheus's client and more; the
	// pause binary only the standard library.
	if im.name == "jack-auth" && (deps < 10 || byName["github.com/golang-jwt/jwt/v5"].VersionInfo == "") {
		t.Errorf("the sidecar's SBOM lists %d dependencies, not the JWT library among them", deps)
	}
	if im.name == "jack-pause" && deps != 0 {
		t.Errorf("the pause binary's SBOM lists %d dependencies, want none", deps)
	}
}

// layerFiles is every entry of the image's layers, by name (folders end in
// a slash), with its contents.
func layerFiles(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if hdr.Uid != 0 || hdr.Gid != 0 {
				t.Errorf("%s is owned by %d:%d, not root", hdr.Name, hdr.Uid, hdr.Gid)
			}
			if hdr.Name == "tmp/" && hdr.Mode != 0o1777 {
				t.Errorf("/tmp has mode %o, want 1777", hdr.Mode)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[hdr.Name] = data
		}
		rc.Close()
	}
	return files
}

// readGoSum maps "module version" to its h1: hash in a go.sum.
func readGoSum(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 3 && !strings.HasSuffix(fields[1], "/go.mod") {
			sums[fields[0]+" "+fields[1]] = fields[2]
		}
	}
	return sums
}
