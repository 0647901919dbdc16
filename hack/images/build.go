package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const (
	modulePath = "github.com/jack-io/jack-operator"
	// versionVar is where the version goes, in both the operator and the
	// sidecar (and harmlessly in the others, which do not link it).
	versionVar = modulePath + "/internal/version.Version"
	sourceURL  = "https://" + modulePath
	licenses   = "Apache-2.0"
)

// image is one image: the Go package its binary is built from, the name `go
// build -o DIR/` gives that binary (the Dockerfile copies it by that name too),
// where it goes in the image and the user it runs as.
type image struct {
	name        string
	pkg         string
	out         string
	binary      string
	user        string
	description string
}

var images = []image{
	{name: "jack-operator", pkg: ".", out: "jack-operator", binary: "/manager", user: "65532:65532",
		description: "jack-operator: JackUser and SigningKey controllers and the pod injection webhook"},
	{name: "jack-auth", pkg: "./sidecar", out: "sidecar", binary: "/jack-auth", user: "65532:65532",
		description: "jack-auth: the JWT verifier sidecar that jack-operator injects into Jack's pods"},
	{name: "jack-echo", pkg: "./hack/jack-echo", out: "jack-echo", binary: "/jack-echo", user: "65532:65532",
		description: "jack-echo: a stand-in for Jack's API that echoes who the sidecar says is calling"},
	{name: "jack-pause", pkg: "./hack/cluster/pause", out: "pause", binary: "/pause", user: "65535:65535",
		description: "jack-pause: the pod sandbox image of jack-operator's local cluster"},
}

// goBuildFlags are the flags of every `go build` of an image's binary; the
// Dockerfile uses the same (dockerfile_test.go checks it). With CGO_ENABLED=0.
// -buildvcs=auto records the commit (internal/version reports it) whatever
// GOFLAGS says, and nothing outside a checkout (the Dockerfile's build).
func goBuildFlags(version string) []string {
	return []string{"-trimpath", "-buildvcs=auto", "-ldflags", ldflags(version)}
}

func ldflags(version string) string {
	return "-s -w -buildid= -X " + versionVar + "=" + version
}

func selectImages(names []string) ([]image, error) {
	if len(names) == 0 {
		return images, nil
	}
	var todo []image
	for _, name := range names {
		i := slices.IndexFunc(images, func(im image) bool { return im.name == name })
		if i < 0 {
			known := make([]string, len(images))
			for j, im := range images {
				known[j] = im.name
			}
			return nil, fmt.Errorf("there is no image %q; the images are %s", name, strings.Join(known, ", "))
		}
		todo = append(todo, images[i])
	}
	return todo, nil
}

func parsePlatforms(s string) ([]v1.Platform, error) {
	var ps []v1.Platform
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := v1.ParsePlatform(f)
		if err != nil {
			return nil, err
		}
		if p.OS != "linux" || (p.Architecture != "amd64" && p.Architecture != "arm64") {
			return nil, fmt.Errorf("-platforms: %s is not a platform these images are built for (linux/amd64, linux/arm64)", f)
		}
		if p.Architecture == "arm64" && p.Variant == "" {
			p.Variant = "v8" // how registries and runtimes name arm64
		}
		if slices.ContainsFunc(ps, func(q v1.Platform) bool { return q.Equals(*p) }) {
			return nil, fmt.Errorf("-platforms names %s twice", f)
		}
		ps = append(ps, *p)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("-platforms names no platform")
	}
	return ps, nil
}

// source is what the images say of the tree they were built from.
type source struct {
	revision string
	created  time.Time
}

// readSource reads HEAD's commit and its time, or takes the time from
// SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/).
func readSource(ctx context.Context, root string) (source, error) {
	var s source
	rev, revErr := git(ctx, root, "rev-parse", "HEAD")
	s.revision = rev
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec < 0 {
			return s, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a count of seconds since 1970", v)
		}
		s.created = time.Unix(sec, 0).UTC()
		return s, nil
	}
	if revErr != nil {
		return s, fmt.Errorf("cannot read the commit of %s to date the images (%v); set SOURCE_DATE_EPOCH", root, revErr)
	}
	ct, err := git(ctx, root, "log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return s, err
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return s, fmt.Errorf("git log gave %q for HEAD's commit time", ct)
	}
	s.created = time.Unix(sec, 0).UTC()
	return s, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// binaries maps platform and image name to the path of the built binary.
type binaries map[string]map[string]string

// buildBinaries builds every image's binary for every platform, one `go build`
// per platform so that the packages they share compile once.
func buildBinaries(ctx context.Context, root, work, version string, platforms []v1.Platform, todo []image) (binaries, error) {
	bins := binaries{}
	for _, p := range platforms {
		dir := filepath.Join(work, p.OS+"-"+p.Architecture)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		args := append([]string{"build"}, goBuildFlags(version)...)
		args = append(args, "-o", dir+string(filepath.Separator))
		for _, im := range todo {
			args = append(args, im.pkg)
		}
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build for %s failed: %w", p, err)
		}
		fmt.Fprintf(os.Stderr, "images: built %d binaries for %s in %s\n", len(todo), p, time.Since(start).Round(100*time.Millisecond))
		bins[p.String()] = map[string]string{}
		for _, im := range todo {
			bins[p.String()][im.name] = filepath.Join(dir, im.out)
		}
	}
	return bins, nil
}
