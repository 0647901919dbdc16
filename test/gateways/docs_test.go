package gateways

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTheDocsShowTheTestedConfigurations keeps docs/gateways.md honest: it
// shows each configuration file of docs/gateways/ whole, as the tests run
// it.
func TestTheDocsShowTheTestedConfigurations(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, "docs", "gateways.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nginx.conf", "traefik.yaml", "traefik-dynamic.yaml", "envoy.yaml"} {
		conf, err := os.ReadFile(filepath.Join(root, "docs", "gateways", name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), "\n"+string(conf)+"```\n") {
			t.Errorf("docs/gateways.md does not show docs/gateways/%s as it is; paste it whole into its code block", name)
		}
	}
}
