// Package version says which build of jack-operator a binary is: Version,
// stamped in at link time, and what the Go toolchain records in every
// binary it builds from a checkout (the VCS revision and whether the tree
// was modified, the Go version), with the platform it runs on.
//
// Both binaries are stamped the same way:
//
//	go build -ldflags "-X github.com/jack-io/jack-operator/internal/version.Version=0.1.0" .
//	go build -ldflags "-X github.com/jack-io/jack-operator/internal/version.Version=0.1.0" ./sidecar
//
// Used by the operator (main.go's --version; internal/operator: the version
// the pod injector records on pods as auth.jack.io/injected-version, the
// jack_operator_build_info metric, the startup log line), by the sidecar
// (--version, jack_sidecar_build_info, /state's version, its startup log
// line), and by the image builds that set Version (hack/images, Dockerfile).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the release this binary was built as, such as "0.1.0"; "dev"
// when the build did not say (go build, go run, go test).
var Version = "dev"

// Info describes one binary's build.
type Info struct {
	// Program is the binary's name: jack-operator or jack-auth.
	Program string
	// Version is Version.
	Version string
	// Revision is the VCS commit the binary was built from, in full; empty
	// when the build recorded none (go test, go run, a build outside a
	// checkout or with -buildvcs=false).
	Revision string
	// Modified is true when the checkout had uncommitted changes.
	Modified bool
	// GoVersion is the Go toolchain that built the binary, such as go1.26.8.
	GoVersion string
	// Platform is the binary's GOOS/GOARCH, such as linux/amd64.
	Platform string
}

// Get describes the running binary, named program.
func Get(program string) Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(program, Version, bi)
}

// fromBuildInfo reads what the toolchain recorded; bi is nil when it
// recorded nothing.
func fromBuildInfo(program, v string, bi *debug.BuildInfo) Info {
	info := Info{Program: program, Version: v, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// RevisionLabel is the revision as a metric label: the full commit, with
// "-dirty" when the checkout was modified, or "unknown".
func (i Info) RevisionLabel() string {
	return i.revision(len(i.Revision))
}

// revision is the commit cut to n characters, marked -dirty when modified.
func (i Info) revision(n int) string {
	if i.Revision == "" {
		return "unknown"
	}
	r := i.Revision[:min(n, len(i.Revision))]
	if i.Modified {
		r += "-dirty"
	}
	return r
}

// String is what --version prints, such as
// "jack-operator 0.1.0 (revision 1a2b3c4, go1.26.8, linux/amd64)".
func (i Info) String() string {
	parts := []string{"revision " + i.revision(7), i.GoVersion, i.Platform}
	return fmt.Sprintf("%s %s (%s)", i.Program, i.Version, strings.Join(parts, ", "))
}
