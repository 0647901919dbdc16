package operator

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWebhookCertFlags(t *testing.T) {
	certDir := t.TempDir()
	for _, f := range []string{"tls.crt", "tls.key"} {
		// A pair that does not parse is enough to tell "read" from "not found".
		if err := os.WriteFile(filepath.Join(certDir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		args    []string
		certDir string
		wantErr string
	}{
		"the defaults: self mode for the chart's names": {},
		"self mode with the address of a local control plane": {
			args: []string{"--webhook-cert-ip-sans=127.0.0.1, ::1"},
		},
		"self mode without a validating webhook configuration": {
			args: []string{"--validating-webhook-configuration="},
		},
		"a mode that does not exist": {
			args: []string{"--webhook-cert-mode=cert-manager"}, wantErr: `must be "self" or "files"`,
		},
		"a certificate directory in self mode, which would be ignored": {
			certDir: certDir, wantErr: "--webhook-cert-dir is for --webhook-cert-mode=files",
		},
		"an IP SAN that is not an address": {
			args: []string{"--webhook-cert-ip-sans=localhost"}, wantErr: "--webhook-cert-ip-sans",
		},
		"files mode reads the directory at once": {
			args: []string{"--webhook-cert-mode=files"}, certDir: certDir, wantErr: "loading the webhook serving certificate from " + certDir,
		},
		"files mode with a directory that holds nothing": {
			args: []string{"--webhook-cert-mode=files"}, certDir: t.TempDir(), wantErr: "no such file",
		},
		"no webhook configuration at all": {
			args: []string{"--validating-webhook-configuration=", "--mutating-webhook-configuration="}, wantErr: "no webhook configuration",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var o WebhookCertOptions
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			_, _, err := webhookCerts(o, tc.certDir, "jack-system")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("webhookCerts: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("webhookCerts = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}
