package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRowsComeFromTheDashDashComments(t *testing.T) {
	values := []byte(`# A file comment, not a value's.

# -- Replicas.
# Two by default.
replicaCount: 2

image:
  # -- The image.
  repository: jack
  pullPolicy: IfNotPresent

# A section heading.
# -- A documented map is one row.
resources:
  limits:
    memory: 256Mi

# -- Choices:
#   self     the operator
#   other    someone <else>
#
# A second paragraph | with a pipe.
mode: self
count: null
`)
	rows, err := Rows(values)
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Key: "replicaCount", Type: "int", Default: "2", Description: "Replicas. Two by default."},
		{Key: "image.repository", Type: "string", Default: `"jack"`, Description: "The image."},
		{Key: "image.pullPolicy", Type: "string", Default: `"IfNotPresent"`},
		{Key: "resources", Type: "object", Default: "{limits: {memory: 256Mi}}", Description: "A documented map is one row."},
		{Key: "mode", Type: "string", Default: `"self"`, Description: "Choices:<br>self     the operator<br>other    someone &lt;else&gt;<br>A second paragraph | with a pipe."},
		{Key: "count", Type: "null", Default: "null"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows\n%+v\nwant\n%+v", rows, want)
	}
}

// The committed README is what chartdoc writes from today's values.yaml.
func TestTheChartREADMEIsUpToDate(t *testing.T) {
	root := filepath.Join("..", "..")
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want, err := render(string(read(templateFile)), read(filepath.Join(chartDir, "Chart.yaml")), read(filepath.Join(chartDir, "values.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(filepath.Join(chartDir, "README.md")), want) {
		t.Error("charts/jack-operator/README.md is out of date: run `make manifests` (go run ./hack/chartdoc)")
	}
}
