package operator

import (
	"flag"
	"strings"
	"testing"

	"github.com/jack-io/jack-operator/internal/version"
)

// The operator's command line: the chart's defaults complete, and each bad
// setting is refused before anything starts, with a sentence naming it.
func TestCompleteChecksTheOptions(t *testing.T) {
	cases := map[string]struct {
		args    []string
		wantErr string
	}{
		"the defaults":          {},
		"no webhooks at all":    {args: []string{"--enable-webhooks=false"}},
		"a usable password min": {args: []string{"--min-password-length=1"}},
		"a password minimum of zero": {
			args: []string{"--min-password-length=0"}, wantErr: "--min-password-length must be at least 1, not 0",
		},
		"a sidecar image with white space": {
			args: []string{"--sidecar-image=jack auth"}, wantErr: "the injection settings: invalid injection configuration: the sidecar image \"jack auth\" must not contain white space",
		},
		"an empty operator namespace": {
			args: []string{"--operator-namespace="}, wantErr: "the webhook certificate Secret needs a namespace and a name",
		},
		"the chart's injection selectors": {args: []string{
			`--injection-namespace-selector={"matchLabels":{"team":"shop"}}`, `--injection-object-selector={"matchLabels":{"app":"jack"}}`,
		}},
		"an injection object selector that selects every pod": {
			args: []string{"--injection-object-selector={}"}, wantErr: "the injection object selector selects every pod; it must name at least one label",
		},
		"a webhook certificate mode that does not exist": {
			args: []string{"--webhook-cert-mode=vault"}, wantErr: `--webhook-cert-mode must be "self" or "files", not "vault"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var o Options
			fs := flag.NewFlagSet("operator", flag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			c, err := o.Complete()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Complete: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Complete = %v, want an error saying %q", err, tc.wantErr)
			case err == nil && c.Webhooks && c.inject.Version != version.Version:
				t.Fatalf("the injection settings carry version %q, want the operator's %q", c.inject.Version, version.Version)
			}
		})
	}
}
