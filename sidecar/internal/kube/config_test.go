package kube_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jack-io/jack-operator/sidecar/internal/kube"
)

func TestInClusterReachesTheAPIServerAsThePodsServiceAccount(t *testing.T) {
	id := newIdentity(t, allow("", "configmaps", "list"))
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", u.Hostname())
	t.Setenv("KUBERNETES_SERVICE_PORT", u.Port())

	cfg, err := kube.InCluster(id.vol.Dir())
	if err != nil {
		t.Fatalf("InCluster: %v", err)
	}
	c := newClient(t, cfg)
	if c.Namespace() != id.ns {
		t.Errorf("the namespace is %q; want %q from the namespace file", c.Namespace(), id.ns)
	}
	var list kube.List[configMap]
	if err := c.List(context.Background(), kube.CollectionPath("", "v1", c.Namespace(), "configmaps"), kube.ListOptions{}, &list); err != nil {
		t.Errorf("List: %v", err)
	}
}

func TestInClusterSaysWhatIsMissing(t *testing.T) {
	complete := map[string]string{"token": "a-token", "ca.crt": "a CA", "namespace": "jack\n"}
	tests := map[string]struct {
		host, port string
		files      map[string]string
		says       string // "" for success
	}{
		"a pod with everything": {
			host: "10.96.0.1", port: "443", files: complete,
		},
		"an IPv6 service address": {
			host: "fd00::1", port: "443", files: complete,
		},
		"no service environment": {
			files: complete, says: "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set",
		},
		"no token file": {
			host: "10.96.0.1", port: "443", files: without(complete, "token"), says: "token",
		},
		"no CA file": {
			host: "10.96.0.1", port: "443", files: without(complete, "ca.crt"), says: "ca.crt",
		},
		"no namespace file": {
			host: "10.96.0.1", port: "443", files: without(complete, "namespace"), says: "namespace",
		},
		"an empty namespace file": {
			host: "10.96.0.1", port: "443", files: with(complete, "namespace", " \n"), says: "namespace file",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", tc.host)
			t.Setenv("KUBERNETES_SERVICE_PORT", tc.port)
			dir := t.TempDir()
			for file, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := kube.InCluster(dir)
			if tc.says != "" {
				if err == nil || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("InCluster: %v; want an error saying %q", err, tc.says)
				}
				return
			}
			if err != nil {
				t.Fatalf("InCluster: %v", err)
			}
			want := kube.Config{
				Host:      "https://" + hostPort(tc.host, tc.port),
				TokenFile: filepath.Join(dir, "token"), CAFile: filepath.Join(dir, "ca.crt"), Namespace: "jack",
			}
			if cfg != want {
				t.Errorf("InCluster = %+v; want %+v", cfg, want)
			}
		})
	}
}

func hostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func without(m map[string]string, key string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func with(m map[string]string, key, value string) map[string]string {
	out := without(m, key)
	out[key] = value
	return out
}
