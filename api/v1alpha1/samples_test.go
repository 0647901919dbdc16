package v1alpha1_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The samples are the first thing a newcomer applies: they must stay valid
// as the API changes.
func TestSamplesAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(env.RepoRoot, "config", "samples", "auth_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found in config/samples (err: %v)", err)
	}
	ns := newNamespace(t)
	kinds := map[string]int{}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
		for {
			var obj unstructured.Unstructured
			if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if obj.Object == nil {
				continue
			}
			obj.SetNamespace(ns)
			if err := k8s.Create(context.Background(), &obj); err != nil {
				t.Errorf("%s: %s %q was refused: %v", filepath.Base(file), obj.GetKind(), obj.GetName(), err)
			}
			kinds[obj.GetKind()]++
		}
		_ = f.Close()
	}
	if kinds["SigningKey"] == 0 || kinds["JackUser"] == 0 || kinds["JackAPIKey"] == 0 {
		t.Errorf("the samples hold %v; want at least one SigningKey, one JackUser and one JackAPIKey", kinds)
	}
}
