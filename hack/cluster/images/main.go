// Command images builds the local cluster's container images without a
// registry or a container builder: each is one layer holding a static Go
// binary of this repository (CGO_ENABLED=0) and the few files a non-root
// process expects (/etc/passwd, /etc/group, /tmp), written as a docker-archive
// tarball that `ctr images import` loads into containerd.
//
//	go run ./hack/cluster/images [-out bin/images] [-tag dev] [name...]
//
// Without names it builds every image: jack-operator (the operator,
// /manager), jack-auth (the sidecar), jack-echo (the sample app) and
// jack-pause (the pod sandbox).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// image is one image to build: the Go package, where its binary goes in the
// image, and how it runs.
type image struct {
	name    string
	pkg     string
	binary  string
	user    string
	ldflags string
}

// images, by name; their tag is -tag. The operator and the sidecar run as
// distroless's "nonroot" (65532), as the chart and the injector expect.
var images = []image{
	{name: "jack-operator", pkg: ".", binary: "/manager", user: "65532:65532", ldflags: "-X github.com/jack-io/jack-operator/internal/operator.Version={{tag}}"},
	{name: "jack-auth", pkg: "./sidecar", binary: "/jack-auth", user: "65532:65532"},
	{name: "jack-echo", pkg: "./hack/jack-echo", binary: "/jack-echo", user: "65532:65532"},
	{name: "jack-pause", pkg: "./hack/cluster/pause", binary: "/pause", user: "65535:65535"},
}

func main() {
	out := flag.String("out", "bin/images", "Directory to write <name>.tar into.")
	tag := flag.String("tag", "dev", "Tag of every image.")
	flag.Parse()
	if err := run(*out, *tag, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(out, tag string, names []string) error {
	var todo []image
	for _, name := range names {
		i := slices.IndexFunc(images, func(im image) bool { return im.name == name })
		if i < 0 {
			return fmt.Errorf("no image %q (known: %s)", name, strings.Join(known(), ", "))
		}
		todo = append(todo, images[i])
	}
	if len(todo) == 0 {
		todo = images
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "jack-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	for _, im := range todo {
		bin := filepath.Join(work, im.name)
		if err := build(im, tag, bin); err != nil {
			return err
		}
		ref := im.name + ":" + tag
		dst := filepath.Join(out, im.name+".tar")
		digest, err := writeArchive(dst, ref, bin, im)
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		fmt.Printf("images: %s -> %s (config %s)\n", ref, dst, digest[:19])
	}
	return nil
}

func build(im image, tag, out string) error {
	ldflags := "-s -w " + strings.ReplaceAll(im.ldflags, "{{tag}}", tag)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, im.pkg)
	// Static, for an image with nothing else in it; for this machine's
	// architecture, which is the node's.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", im.pkg, err)
	}
	return nil
}

func known() []string {
	var names []string
	for _, im := range images {
		names = append(names, im.name)
	}
	return names
}
