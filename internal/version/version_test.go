package version

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestWhatABuildRecordedIsReadAndPrinted(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	const commit = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	vcs := func(settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8"}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	cases := map[string]struct {
		program, version string
		bi               *debug.BuildInfo
		want             string
		revisionLabel    string
	}{
		"a release built from a clean checkout": {
			program: "jack-operator", version: "0.1.0", bi: vcs("vcs", "git", "vcs.revision", commit, "vcs.modified", "false"),
			want: "jack-operator 0.1.0 (revision 1a2b3c4, go1.26.8, " + platform + ")", revisionLabel: commit,
		},
		"a build from a modified checkout says so": {
			program: "jack-auth", version: "0.2.0-rc.1", bi: vcs("vcs.revision", commit, "vcs.modified", "true"),
			want: "jack-auth 0.2.0-rc.1 (revision 1a2b3c4-dirty, go1.26.8, " + platform + ")", revisionLabel: commit + "-dirty",
		},
		"a build without VCS information (go test, -buildvcs=false) has an unknown revision": {
			program: "jack-operator", version: "dev", bi: vcs("-ldflags", "-X x=y"),
			want: "jack-operator dev (revision unknown, go1.26.8, " + platform + ")", revisionLabel: "unknown",
		},
		"a short revision is kept whole": {
			program: "jack-auth", version: "dev", bi: vcs("vcs.revision", "abc"),
			want: "jack-auth dev (revision abc, go1.26.8, " + platform + ")", revisionLabel: "abc",
		},
		"a binary without build information reports the running toolchain": {
			program: "jack-auth", version: "1.0.0", bi: nil,
			want: "jack-auth 1.0.0 (revision unknown, " + runtime.Version() + ", " + platform + ")", revisionLabel: "unknown",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			info := fromBuildInfo(c.program, c.version, c.bi)
			if got := info.String(); got != c.want {
				t.Errorf("String() = %q\nwant       %q", got, c.want)
			}
			if got := info.RevisionLabel(); got != c.revisionLabel {
				t.Errorf("RevisionLabel() = %q, want %q", got, c.revisionLabel)
			}
		})
	}
}

// The test binary itself: Version is the default, and the Go version and
// platform are the running ones.
func TestGetDescribesTheRunningBinary(t *testing.T) {
	info := Get("jack-operator")
	if info.Version != "dev" || info.Version != Version {
		t.Errorf("Version = %q, want the default dev", info.Version)
	}
	if info.GoVersion != runtime.Version() || info.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("Get = %+v, want %s on %s/%s", info, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
}
