// Command images builds jack-operator's container images from the tree,
// without Docker or any container builder, and pushes them to a registry.
//
// Each image is an OCI image index for linux/amd64 and linux/arm64 (-platforms)
// whose images hold a single layer: one static Go binary of this repository
// (CGO_ENABLED=0, -trimpath, -buildid=, the version stamped into
// internal/version.Version), /etc/passwd and /etc/group naming the non-root
// user it runs as, a world-writable /tmp, and an SPDX 2.3 SBOM of the binary at
// /usr/share/doc/<name>/sbom.spdx.json made from its Go build information (the
// main module, every dependency with its version and go.sum hash, the Go
// version and the build settings). Nothing else: no shell, no libc, no CA
// certificates.
//
//	image          binary       user         package
//	jack-operator  /manager     65532:65532  .               (the operator)
//	jack-auth      /jack-auth   65532:65532  ./sidecar       (the verifier sidecar)
//	jack-echo      /jack-echo   65532:65532  ./hack/jack-echo (the sample app)
//	jack-pause     /pause       65535:65535  ./hack/cluster/pause (the local cluster's sandbox)
//
// The images are reproducible: every timestamp is the commit time of HEAD (or
// SOURCE_DATE_EPOCH when set), so the same tree gives the same digests. Their
// configs and manifests (and the indexes) carry the org.opencontainers.image.*
// labels and annotations source, revision, version, created, title,
// description and licenses.
//
// Usage, from this folder (it is a module of its own, so go-containerregistry
// stays out of the project's go.mod; it runs `go build` in the repository):
//
//	go run . [-version dev] [-platforms linux/amd64,linux/arm64] [-out DIR]
//	         [-push REGISTRY [-insecure]] [-env FILE] [name...]
//	go run . values FILE KEY=VALUE...
//
// Without names it builds every image. It always writes an OCI image layout
// with one index per image, tagged <name>:<version>, to DIR (default
// bin/images/<version>). With -push it pushes each index as
// REGISTRY/<name>:<version>, e.g. -push localhost:5001/jack, over plain HTTP
// when the registry's host is localhost or 127.0.0.1 or with -insecure, and
// credentials from the Docker configuration (~/.docker/config.json) otherwise.
// It prints `name reference@digest` for each image at the end. -env FILE writes
// the pushed digests as a shell-sourceable file (hack/cluster/cluster.sh images
// writes bin/images/<version>.env with it):
//
//	JACK_VERSION=dev
//	JACK_REGISTRY=localhost:5001/jack
//	JACK_OPERATOR_DIGEST=sha256:...
//	JACK_SIDECAR_DIGEST=sha256:...
//	JACK_ECHO_DIGEST=sha256:...
//
// `values FILE KEY=VALUE...` sets dotted keys (image.digest=sha256:...) of a
// chart's values.yaml in place, keeping its comments and layout; hack/release.sh
// uses it to pin the pushed digests in the chart it packages.
//
// `plugin [-version dev] [-platforms ...] [-out DIR] [-url-base URL]` builds
// the kubectl plugin's release instead (hack/release.sh plugin, make
// plugin-release): kubectl-jack, with the images' build flags, for linux and
// darwin on amd64 and arm64 and windows/amd64, each packed with README.md
// (and LICENSE, once the repository has one) as kubectl-jack_<os>_<arch>.tar.gz,
// reproducibly like the images (every time the commit's, entries sorted, owned
// by 0:0, a gzip header without a name or a time); SHA256SUMS of them; and
// jack.yaml, plugins/jack.yaml with the version (v<version>; a build that is
// not x.y.z[-pre], such as dev, is a pre-release of the chart's version,
// v0.1.0-dev), each archive's URL under -url-base (default the GitHub
// release of that version) and its sha256 filled in, the platforms not built
// left out. All into DIR (default bin/release/<version>).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "values" {
		if err := setValues(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "images values:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := runPlugin(ctx, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "images plugin:", err)
			stop()
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.version, "version", "dev", "The version stamped into the binaries and the images' tag.")
	flag.StringVar(&o.platforms, "platforms", "linux/amd64,linux/arm64", "The platforms of every image index, comma-separated.")
	flag.StringVar(&o.out, "out", "", "The OCI image layout to write (default <repository>/bin/images/<version>).")
	flag.StringVar(&o.push, "push", "", "Push every image as REGISTRY/<name>:<version>, e.g. localhost:5001/jack.")
	flag.BoolVar(&o.insecure, "insecure", false, "Push over plain HTTP (automatic for localhost and 127.0.0.1).")
	flag.StringVar(&o.env, "env", "", "With -push: write the version, registry and digests to this shell-sourceable file.")
	flag.StringVar(&o.root, "root", "", "The repository to build (default: the one this command runs in).")
	flag.Parse()
	o.names = flag.Args()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

type options struct {
	version, platforms, out, push, env, root string
	insecure                                 bool
	names                                    []string
}

func run(ctx context.Context, o options) error {
	if o.env != "" && o.push == "" {
		return errors.New("-env writes the pushed digests, so it needs -push")
	}
	if !validTag(o.version) {
		return fmt.Errorf("-version %q cannot be an image tag: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.' or '-')", o.version)
	}
	todo, err := selectImages(o.names)
	if err != nil {
		return err
	}
	platforms, err := parsePlatforms(o.platforms)
	if err != nil {
		return err
	}
	if o.root == "" {
		if o.root, err = findRoot(); err != nil {
			return err
		}
	}
	if o.out == "" {
		o.out = filepath.Join(o.root, "bin", "images", o.version)
	}
	src, err := readSource(ctx, o.root)
	if err != nil {
		return err
	}

	work, err := os.MkdirTemp("", "jack-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bins, err := buildBinaries(ctx, o.root, work, o.version, platforms, todo)
	if err != nil {
		return err
	}
	built := make([]builtImage, 0, len(todo))
	for _, im := range todo {
		idx, err := assemble(im, o.version, src, platforms, bins)
		if err != nil {
			return fmt.Errorf("%s: %w", im.name, err)
		}
		built = append(built, builtImage{image: im, index: idx})
	}
	if err := writeLayout(o.out, o.version, built); err != nil {
		return fmt.Errorf("writing the image layout %s: %w", o.out, err)
	}
	fmt.Fprintf(os.Stderr, "images: wrote the OCI image layout %s\n", o.out)

	refs := make([]string, len(built))
	for i, b := range built {
		refs[i] = b.name + ":" + o.version
	}
	if o.push != "" {
		if refs, err = push(ctx, strings.TrimSuffix(o.push, "/"), o.version, o.insecure, built); err != nil {
			return err
		}
		if o.env != "" {
			if err := writeEnv(o.env, o.version, strings.TrimSuffix(o.push, "/"), built); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "images: wrote %s\n", o.env)
		}
	}
	for i, b := range built {
		d, err := b.index.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s %s@%s\n", b.name, refs[i], d)
	}
	return nil
}

// findRoot is the repository this command runs in: the nearest folder up
// from here whose go.mod is jack-operator's.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 64 {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module "+modulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("no folder above the current one holds the go.mod of %s; run from inside the repository or give -root", modulePath)
}

// validTag is the OCI distribution specification's rule for a tag.
func validTag(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
