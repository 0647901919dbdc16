package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// pluginPlatforms are the platforms kubectl-jack is released for, in the
// order of plugins/jack.yaml.
var pluginPlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

const (
	pluginPkg      = "./cmd/kubectl-jack"
	pluginBinary   = "kubectl-jack"
	pluginManifest = "jack.yaml" // krew takes the plugin's name from the file's
	pluginSums     = "SHA256SUMS"
	// downloadBase is where a release's files are downloaded from, followed
	// by /<tag>.
	downloadBase = "https://" + modulePath + "/releases/download"
)

// krewVersion is what krew accepts as a plugin's version: semantic, with a v.
var krewVersion = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

type pluginOptions struct {
	version, platforms, out, urlBase, root string
}

// runPlugin is `images plugin`: kubectl-jack's release archives, their
// SHA256SUMS and the filled krew manifest.
func runPlugin(ctx context.Context, args []string) error {
	var o pluginOptions
	fs := flag.NewFlagSet("images plugin", flag.ContinueOnError)
	fs.StringVar(&o.version, "version", "dev", "The version stamped into kubectl-jack.")
	fs.StringVar(&o.platforms, "platforms", strings.Join(pluginPlatforms, ","), "The platforms to build, comma-separated.")
	fs.StringVar(&o.out, "out", "", "The folder to write to (default <repository>/bin/release/<version>).")
	fs.StringVar(&o.urlBase, "url-base", "", "Where the archives will be downloaded from (default "+downloadBase+"/<the manifest's version>).")
	fs.StringVar(&o.root, "root", "", "The repository to build (default: the one this command runs in).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("images plugin takes no arguments, got %q", fs.Args())
	}
	if !validTag(o.version) {
		return fmt.Errorf("-version %q: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.' or '-')", o.version)
	}
	platforms, err := parsePluginPlatforms(o.platforms)
	if err != nil {
		return err
	}
	if o.root == "" {
		if o.root, err = findRoot(); err != nil {
			return err
		}
	}
	if o.out == "" {
		o.out = filepath.Join(o.root, "bin", "release", o.version)
	}
	chartVersion, err := readChartVersion(filepath.Join(o.root, "charts", "jack-operator", "Chart.yaml"))
	if err != nil {
		return err
	}
	tag, err := pluginVersion(o.version, chartVersion)
	if err != nil {
		return err
	}
	if o.urlBase == "" {
		o.urlBase = downloadBase + "/" + tag
	}
	o.urlBase = strings.TrimSuffix(o.urlBase, "/")
	template, err := os.ReadFile(filepath.Join(o.root, "plugins", pluginManifest))
	if err != nil {
		return err
	}
	src, err := readSource(ctx, o.root)
	if err != nil {
		return err
	}
	docs, err := pluginDocs(o.root)
	if err != nil {
		return err
	}

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if err := removeOldRelease(o.out); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "jack-plugin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	sums := map[string]string{}
	var sumsFile strings.Builder
	for _, p := range platforms {
		bin, err := buildPlugin(ctx, o.root, work, o.version, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		files := append([]archiveFile{{name: filepath.Base(bin), mode: 0o755, data: data}}, docs...)
		var buf bytes.Buffer
		if err := writeArchive(&buf, src.created, files); err != nil {
			return err
		}
		name := archiveName(p)
		if err := os.WriteFile(filepath.Join(o.out, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(buf.Bytes())
		sums[p] = hex.EncodeToString(sum[:])
		fmt.Fprintf(&sumsFile, "%s  %s\n", sums[p], name)
	}
	if err := os.WriteFile(filepath.Join(o.out, pluginSums), []byte(sumsFile.String()), 0o644); err != nil {
		return err
	}
	manifest, err := renderManifest(template, tag, o.urlBase, sums)
	if err != nil {
		return fmt.Errorf("plugins/%s: %w", pluginManifest, err)
	}
	if err := os.WriteFile(filepath.Join(o.out, pluginManifest), manifest, 0o644); err != nil {
		return err
	}

	fmt.Printf("kubectl-jack %s (krew version %s) is in %s:\n", o.version, tag, o.out)
	for _, p := range platforms {
		fmt.Printf("  %s  %s\n", archiveName(p), sums[p])
	}
	fmt.Printf("  %s\n  %s  (its uris: %s/kubectl-jack_<os>_<arch>.tar.gz)\n", pluginSums, pluginManifest, o.urlBase)
	fmt.Printf("Upload these files so that %s/<name> serves them (the assets of the GitHub release %s by default);\n"+
		"then kubectl krew install --manifest-url=%s/%s installs the plugin, and %s can go to a krew index.\n",
		o.urlBase, tag, o.urlBase, pluginManifest, pluginManifest)
	fmt.Printf("Or install from the files: kubectl krew install --manifest=%s --archive=%s\n",
		filepath.Join(o.out, pluginManifest), filepath.Join(o.out, "kubectl-jack_<os>_<arch>.tar.gz"))
	return nil
}

func parsePluginPlatforms(s string) ([]string, error) {
	var ps []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(pluginPlatforms, f) {
			return nil, fmt.Errorf("-platforms: kubectl-jack is not released for %s (only %s)", f, strings.Join(pluginPlatforms, ", "))
		}
		if slices.Contains(ps, f) {
			return nil, fmt.Errorf("-platforms names %s twice", f)
		}
		ps = append(ps, f)
	}
	if len(ps) == 0 {
		return nil, errors.New("-platforms names no platform")
	}
	// In the order of pluginPlatforms, whatever the flag's, so that
	// SHA256SUMS does not depend on how the platforms were listed.
	slices.SortFunc(ps, func(a, b string) int {
		return slices.Index(pluginPlatforms, a) - slices.Index(pluginPlatforms, b)
	})
	return ps, nil
}

// pluginVersion is the version krew knows the plugin by: vVERSION for a
// release, and for any other build (dev) a pre-release of the chart's version,
// as hack/release.sh versions the chart of such a build (v0.1.0-dev).
func pluginVersion(version, chartVersion string) (string, error) {
	if v := "v" + version; krewVersion.MatchString(v) {
		return v, nil
	}
	v := "v" + chartVersion + "-" + version
	if !krewVersion.MatchString(v) {
		return "", fmt.Errorf("-version %q is neither x.y.z[-pre] nor a word that can follow %s- (krew needs a semantic version: letters, digits, '-' and '.')", version, chartVersion)
	}
	return v, nil
}

func readChartVersion(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "version:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`), nil
		}
	}
	return "", fmt.Errorf("%s has no version", file)
}

func archiveName(platform string) string {
	return pluginBinary + "_" + strings.ReplaceAll(platform, "/", "_") + ".tar.gz"
}

func binaryName(platform string) string {
	if strings.HasPrefix(platform, "windows/") {
		return pluginBinary + ".exe"
	}
	return pluginBinary
}

// pluginDocs are the files each archive holds beside the binary: README.md,
// and the repository's LICENSE once it has one (a krew index wants one in
// every archive).
func pluginDocs(root string) ([]archiveFile, error) {
	var files []archiveFile
	for _, name := range []string{"README.md", "LICENSE"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, os.ErrNotExist) && name == "LICENSE" {
			continue
		}
		if err != nil {
			return nil, err
		}
		files = append(files, archiveFile{name: name, mode: 0o644, data: data})
	}
	return files, nil
}

// removeOldRelease removes what an earlier run wrote to dir, so that an
// archive of a platform not built this time is not left beside the new
// SHA256SUMS.
func removeOldRelease(dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, pluginBinary+"_*.tar.gz"))
	if err != nil {
		return err
	}
	for _, f := range append(old, filepath.Join(dir, pluginSums), filepath.Join(dir, pluginManifest)) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// buildPlugin builds kubectl-jack for platform with the images' flags
// (goBuildFlags: static, -trimpath, no build ID, the version stamped in) and
// returns the binary's path.
func buildPlugin(ctx context.Context, root, work, version, platform string) (string, error) {
	goos, goarch, _ := strings.Cut(platform, "/")
	out := filepath.Join(work, goos+"_"+goarch, binaryName(platform))
	args := append([]string{"build"}, goBuildFlags(version)...)
	args = append(args, "-o", out, pluginPkg)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build of kubectl-jack for %s failed: %w", platform, err)
	}
	fmt.Fprintf(os.Stderr, "images plugin: built kubectl-jack for %s in %s\n", platform, time.Since(start).Round(100*time.Millisecond))
	return out, nil
}

type archiveFile struct {
	name string
	mode int64
	data []byte
}

// writeArchive writes files as a .tar.gz that depends on nothing but them and
// mtime: entries sorted by name, owned by 0:0 with no user or group names,
// every time mtime, and a gzip header without a name or a time.
func writeArchive(w io.Writer, mtime time.Time, files []archiveFile) error {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b archiveFile) int { return strings.Compare(a.name, b.name) })
	gz := gzip.NewWriter(w) // a zero Header: no name, no time
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     f.name,
			Mode:     f.mode,
			Size:     int64(len(f.data)),
			ModTime:  mtime.UTC().Truncate(time.Second),
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
