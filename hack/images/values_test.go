package main

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestEditValues(t *testing.T) {
	in := `# The chart's values.
image:
  # -- The registry.
  registry: ghcr.io/jack-io
  repository: jack-operator # the name
  # -- Defaults to appVersion.
  tag: ""
  digest: ""
sidecar:
  image:
    digest: "" # pinned by release.sh
list: [a, b]
`
	tests := map[string]struct {
		sets    []string
		want    map[string]string
		wantErr string
	}{
		"sets nested keys and keeps the comments": {
			sets: []string{"image.registry=localhost:5001/jack", "image.tag=1.2.3", "image.digest=sha256:abc", "sidecar.image.digest=sha256:def"},
			want: map[string]string{"image.registry": "localhost:5001/jack", "image.tag": "1.2.3", "image.digest": "sha256:abc", "sidecar.image.digest": "sha256:def"},
		},
		"a version that looks like a number stays a string": {
			sets: []string{"image.tag=1.20"},
			want: map[string]string{"image.tag": "1.20"},
		},
		"replaces a plain value before its comment": {
			sets: []string{"image.repository=other/op"},
			want: map[string]string{"image.repository": "other/op"},
		},
		"refuses a key the file does not have": {
			sets:    []string{"image.digests=sha256:abc"},
			wantErr: "has no key image.digests",
		},
		"refuses to replace a mapping": {
			sets:    []string{"sidecar.image=x"},
			wantErr: "sidecar.image is not a single value",
		},
		"refuses a word without =": {
			sets:    []string{"image.tag"},
			wantErr: "is not KEY=VALUE",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := editValues([]byte(in), tc.sets)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error with %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []string{"# The chart's values.", "# -- The registry.", "# -- Defaults to appVersion.", "# pinned by release.sh", "# the name"} {
				if !strings.Contains(string(out), c) {
					t.Errorf("lost the comment %q:\n%s", c, out)
				}
			}
			// Only the lines of the keys set change.
			inLines, outLines := strings.Split(in, "\n"), strings.Split(string(out), "\n")
			if len(inLines) != len(outLines) {
				t.Fatalf("the file went from %d lines to %d:\n%s", len(inLines), len(outLines), out)
			}
			changed := 0
			for i := range inLines {
				if inLines[i] != outLines[i] {
					changed++
				}
			}
			if changed != len(tc.want) {
				t.Errorf("%d lines changed, want %d:\n%s", changed, len(tc.want), out)
			}
			var got map[string]any
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			for key, want := range tc.want {
				var v any = got
				for _, part := range strings.Split(key, ".") {
					v = v.(map[string]any)[part]
				}
				if v != want {
					t.Errorf("%s = %#v, want %q:\n%s", key, v, want, out)
				}
			}
			if _, set := tc.want["image.repository"]; !set && got["image"].(map[string]any)["repository"] != "jack-operator" {
				t.Errorf("changed a key it was not asked to:\n%s", out)
			}
		})
	}
}
