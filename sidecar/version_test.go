package main

import (
	"context"
	"encoding/json"
	"maps"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/internal/testsupport/promtext"
)

// The test binary is built as a release would be (TestMain), with the
// version stamped through the linker.
const (
	versionVariable = "github.com/jack-io/jack-operator/internal/version.Version"
	stampedVersion  = "9.9.9-test"
)

// versionLine is what --version prints for the test build: the name, the
// stamped version, then the revision (unknown when the build recorded no
// VCS information), the Go version and the platform.
var versionLine = regexp.MustCompile(`^jack-auth ` + regexp.QuoteMeta(stampedVersion) + ` \(revision ([0-9a-f]{7}(-dirty)?|unknown), ` +
	regexp.QuoteMeta(runtime.Version()) + `, ` + runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`)

// --version and `version` print the build and exit 0 at once, reading no
// file and reaching no API server: here there are neither.
func TestVersionPrintsTheStampedVersionAndExits(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"serve", "--version"}, {"-version", "--keys", "/nonexistent"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, args...)
			cmd.Env = []string{"KUBERNETES_SERVICE_HOST=192.0.2.1", "KUBERNETES_SERVICE_PORT=443"}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("jack-auth %s: %v (%s)", strings.Join(args, " "), err, out)
			}
			if !versionLine.Match(out) {
				t.Errorf("jack-auth %s printed %q, want a line matching %s", strings.Join(args, " "), out, versionLine)
			}
		})
	}
	out, err := exec.Command(binary, "version", "extra").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "version takes no arguments") {
		t.Errorf("jack-auth version extra: %v, %s; want a refusal", err, out)
	}
}

// A running sidecar says its version in its startup line, in /state and in
// jack_sidecar_build_info on its metrics port, all the stamped one.
func TestARunningSidecarReportsItsVersion(t *testing.T) {
	s := newFixture(t).start()

	var serving struct{ Msg, Version, Revision, GoVersion string }
	for _, line := range strings.Split(s.logText(), "\n") {
		if json.Unmarshal([]byte(line), &serving) == nil && serving.Msg == "serving" {
			break
		}
	}
	if serving.Msg != "serving" || serving.Version != stampedVersion || serving.Revision == "" || serving.GoVersion != runtime.Version() {
		t.Errorf("the startup line says version %q, revision %q, go %q; want %s, a revision, %s; log:\n%s",
			serving.Version, serving.Revision, serving.GoVersion, stampedVersion, runtime.Version(), s.logText())
	}

	if st, body := s.state(); st.Version != stampedVersion {
		t.Errorf("/state says version %q, want %q: %s", st.Version, stampedVersion, body)
	}

	series := promtext.Scrape(t, s.ops+"/metrics", "jack_sidecar_build_info")
	if len(series) != 1 {
		t.Fatalf("jack_sidecar_build_info has %d series, want 1: %v", len(series), series)
	}
	want := map[string]string{"version": stampedVersion, "revision": serving.Revision, "goversion": runtime.Version()}
	if got := series[0]; got.Value != "1" || !maps.Equal(got.Labels, want) {
		t.Errorf("jack_sidecar_build_info%v %s, want %v 1", got.Labels, got.Value, want)
	}
}
