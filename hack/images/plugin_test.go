package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The archives are reproducible: the same files and time give the same bytes
// whatever order the files come in, and nothing of the machine (owner, the
// time of the build) gets in.
func TestPluginArchivesDependOnlyOnTheirFilesAndTime(t *testing.T) {
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 678, time.FixedZone("x", 3600))
	files := []archiveFile{
		{name: "kubectl-jack", mode: 0o755, data: []byte("a binary")},
		{name: "README.md", mode: 0o644, data: []byte("# read me\n")},
	}
	var one, two bytes.Buffer
	if err := writeArchive(&one, mtime, files); err != nil {
		t.Fatal(err)
	}
	if err := writeArchive(&two, mtime, []archiveFile{files[1], files[0]}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one.Bytes(), two.Bytes()) {
		t.Error("the same files in another order gave another archive")
	}

	gz, err := gzip.NewReader(bytes.NewReader(one.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() || gz.Comment != "" {
		t.Errorf("the gzip header has name %q, time %v, comment %q; want none", gz.Name, gz.ModTime, gz.Comment)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		wantMode := int64(0o644)
		if hdr.Name == "kubectl-jack" {
			wantMode = 0o755
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Mode != wantMode || hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" ||
			!hdr.ModTime.Equal(time.Unix(mtime.Unix(), 0)) || len(hdr.PAXRecords) != 0 {
			t.Errorf("%s: type %c, mode %o, owner %d:%d (%q:%q), time %v, PAX %v; want a plain file, mode %o, 0:0, %v",
				hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname, hdr.ModTime, hdr.PAXRecords, wantMode, mtime)
		}
	}
	if strings.Join(names, " ") != "README.md kubectl-jack" {
		t.Errorf("the archive holds %v, want README.md and kubectl-jack in that order", names)
	}
}

func TestPluginVersion(t *testing.T) {
	tests := map[string]struct {
		version, want, wantErr string
	}{
		"a release is itself with a v":                  {version: "0.2.0", want: "v0.2.0"},
		"a release candidate too":                       {version: "1.0.0-rc.1", want: "v1.0.0-rc.1"},
		"dev is a pre-release of the chart's version":   {version: "dev", want: "v0.1.0-dev"},
		"so is any word krew can take as a pre-release": {version: "pr-42.3", want: "v0.1.0-pr-42.3"},
		"a word krew cannot take is refused":            {version: "my_branch", wantErr: "krew needs a semantic version"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := pluginVersion(tc.version, "0.1.0")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error with %q, got %q, %v", tc.wantErr, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParsePluginPlatforms(t *testing.T) {
	got, err := parsePluginPlatforms("windows/amd64, linux/amd64")
	if err != nil || strings.Join(got, ",") != "linux/amd64,windows/amd64" {
		t.Errorf("got %v, %v; want linux/amd64 then windows/amd64", got, err)
	}
	for _, bad := range []string{"", "linux/386", "linux/amd64,linux/amd64"} {
		if _, err := parsePluginPlatforms(bad); err == nil {
			t.Errorf("-platforms %q was taken", bad)
		}
	}
}

// The template in the tree offers every platform kubectl-jack is released for;
// a release fills each one it built and leaves out the others.
func TestRenderManifestFillsTheTemplate(t *testing.T) {
	template, err := os.ReadFile("../../plugins/jack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for i, p := range pluginPlatforms {
		sums[p] = strings.Repeat(string(rune('a'+i)), 64)
	}
	out, err := renderManifest(template, "v1.2.3", "https://example.com/dl", sums)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeManifest(t, out)
	if m.Spec.Version != "v1.2.3" || len(m.Spec.Platforms) != len(pluginPlatforms) {
		t.Fatalf("the manifest has version %s and %d platforms, want v1.2.3 and %d", m.Spec.Version, len(m.Spec.Platforms), len(pluginPlatforms))
	}
	for _, p := range m.Spec.Platforms {
		platform := p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
		if p.URI != "https://example.com/dl/"+archiveName(platform) || p.Sha256 != sums[platform] || p.Bin != binaryName(platform) {
			t.Errorf("%s: uri %s, sha256 %s, bin %s", platform, p.URI, p.Sha256, p.Bin)
		}
	}
	if strings.Contains(string(out), "placeholders") || !strings.HasPrefix(string(out), "# The krew manifest of kubectl-jack v1.2.3,") {
		t.Errorf("the manifest keeps the template's comment or lacks its own:\n%s", out)
	}

	out, err = renderManifest(template, "v1.2.3", "https://example.com/dl", map[string]string{"linux/arm64": sums["linux/arm64"]})
	if err != nil {
		t.Fatal(err)
	}
	if m := decodeManifest(t, out); len(m.Spec.Platforms) != 1 || m.Spec.Platforms[0].Selector.MatchLabels["arch"] != "arm64" {
		t.Errorf("a linux/arm64 release offers %+v", m.Spec.Platforms)
	}
}

func TestRenderManifestRefusesATemplateThatDisagrees(t *testing.T) {
	template := `spec:
  version: v0.0.0
  platforms:
  - selector:
      matchLabels: {os: windows, arch: amd64}
    uri: x
    sha256: "0"
    bin: kubectl-jack
`
	sum := strings.Repeat("a", 64)
	if _, err := renderManifest([]byte(template), "v1.0.0", "u", map[string]string{"windows/amd64": sum}); err == nil || !strings.Contains(err.Error(), "kubectl-jack.exe") {
		t.Errorf("a windows platform whose bin is not kubectl-jack.exe: %v", err)
	}
	if _, err := renderManifest([]byte(template), "v1.0.0", "u", map[string]string{"darwin/arm64": sum}); err == nil || !strings.Contains(err.Error(), "no spec.platforms entry for darwin/arm64") {
		t.Errorf("a built platform the template lacks: %v", err)
	}
}

type testManifest struct {
	Spec struct {
		Version   string `yaml:"version"`
		Platforms []struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			URI    string `yaml:"uri"`
			Sha256 string `yaml:"sha256"`
			Bin    string `yaml:"bin"`
		} `yaml:"platforms"`
	} `yaml:"spec"`
}

func decodeManifest(t *testing.T, data []byte) testManifest {
	t.Helper()
	var m testManifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v:\n%s", err, data)
	}
	return m
}
