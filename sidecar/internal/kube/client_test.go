package kube_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/sidecar/internal/kube"
)

// configMap and meta are how a caller of the package declares the parts of
// an object it reads and writes.
type configMap struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   meta              `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
}

type meta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace,omitempty"`
	UID             string            `json:"uid,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

func newConfigMap(name string, data map[string]string) *configMap {
	return &configMap{APIVersion: "v1", Kind: "ConfigMap", Metadata: meta{Name: name}, Data: data}
}

// kinds names every predicate that holds for err, so a test can check
// that exactly the expected one does.
func kinds(err error) []string {
	var out []string
	for name, is := range map[string]func(error) bool{
		"AlreadyExists": kube.IsAlreadyExists, "Forbidden": kube.IsForbidden, "NotFound": kube.IsNotFound,
		"Unauthorized": kube.IsUnauthorized, "Expired": kube.IsExpired, "Transport": kube.IsTransport,
		"Conflict": kube.IsConflict,
	} {
		if is(err) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func TestAnswersOfTheAPIServerAreTellingErrors(t *testing.T) {
	id := newIdentity(t,
		allow("", "configmaps", "get", "list", "watch", "create"),
		allow("auth.jack.io", "jackusers", "list"),
	)
	c := id.client(t)
	token, err := os.ReadFile(id.config().TokenFile)
	if err != nil {
		t.Fatal(err)
	}
	configMaps := kube.CollectionPath("", "v1", id.ns, "configmaps")
	create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: id.ns}})

	// A token the API server cannot verify, shaped like a real one.
	bogus := filepath.Join(t.TempDir(), "token")
	const bogusToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.c2lnbmF0dXJl"
	if err := os.WriteFile(bogus, []byte(bogusToken), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := id.config()
	cfg.TokenFile = bogus
	unknown := newClient(t, cfg)

	var list kube.List[configMap]
	tests := map[string]struct {
		do   func(context.Context) error
		want []string // nil: success
	}{
		"listing what the Role grants succeeds": {
			do: func(ctx context.Context) error { return c.List(ctx, configMaps, kube.ListOptions{}, &list) },
		},
		"creating what the Role grants succeeds": {
			do: func(ctx context.Context) error { return c.Create(ctx, configMaps, newConfigMap("fresh", nil)) },
		},
		"creating an object that exists is AlreadyExists": {
			do:   func(ctx context.Context) error { return c.Create(ctx, configMaps, newConfigMap("taken", nil)) },
			want: []string{"AlreadyExists"},
		},
		"getting what the Role grants succeeds": {
			do: func(ctx context.Context) error {
				var cm configMap
				if err := c.Get(ctx, configMaps+"/taken", &cm); err != nil {
					return err
				}
				if cm.Metadata.Name != "taken" || cm.Metadata.UID == "" {
					return errors.New("Get returned another object")
				}
				return nil
			},
		},
		"getting an object that does not exist is NotFound": {
			do:   func(ctx context.Context) error { return c.Get(ctx, configMaps+"/missing", &configMap{}) },
			want: []string{"NotFound"},
		},
		"getting what the Role does not grant is Forbidden": {
			do: func(ctx context.Context) error {
				return c.Get(ctx, kube.CollectionPath("", "v1", id.ns, "secrets")+"/s", &configMap{})
			},
			want: []string{"Forbidden"},
		},
		"listing what the Role does not grant is Forbidden": {
			do: func(ctx context.Context) error {
				return c.List(ctx, kube.CollectionPath("", "v1", id.ns, "secrets"), kube.ListOptions{}, &list)
			},
			want: []string{"Forbidden"},
		},
		"creating what the Role does not grant is Forbidden": {
			do: func(ctx context.Context) error {
				return c.Create(ctx, kube.CollectionPath("", "v1", id.ns, "secrets"), map[string]any{
					"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"},
				})
			},
			want: []string{"Forbidden"},
		},
		"listing in another namespace is Forbidden": {
			do: func(ctx context.Context) error {
				return c.List(ctx, kube.CollectionPath("", "v1", "default", "configmaps"), kube.ListOptions{}, &list)
			},
			want: []string{"Forbidden"},
		},
		"listing a version of a granted resource the server does not serve is NotFound": {
			do: func(ctx context.Context) error {
				return c.List(ctx, kube.CollectionPath("auth.jack.io", "v9", id.ns, "jackusers"), kube.ListOptions{}, &list)
			},
			want: []string{"NotFound"},
		},
		"a token the API server does not accept is Unauthorized": {
			do:   func(ctx context.Context) error { return unknown.List(ctx, configMaps, kube.ListOptions{}, &list) },
			want: []string{"Unauthorized"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.do(context.Background())
			if got := kinds(err); !slices.Equal(got, tc.want) {
				t.Fatalf("error %v is %v; want %v", err, got, tc.want)
			}
			if err == nil {
				return
			}
			var se *kube.StatusError
			if !errors.As(err, &se) || se.Message == "" {
				t.Errorf("error %v is not a *StatusError with the server's message", err)
			}
			for _, secret := range []string{strings.TrimSpace(string(token)), bogusToken} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes a bearer token: %v", err)
				}
			}
		})
	}
}

func TestCreateUpdatesTheObjectWithWhatTheServerStored(t *testing.T) {
	id := newIdentity(t, allow("", "configmaps", "create"))
	c := id.client(t)
	cm := newConfigMap("stored", map[string]string{"k": "v"})
	if err := c.Create(context.Background(), kube.CollectionPath("", "v1", id.ns, "configmaps"), cm); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if cm.Metadata.UID == "" || cm.Metadata.ResourceVersion == "" || cm.Metadata.Namespace != id.ns || cm.Data["k"] != "v" {
		t.Errorf("after Create the object is %+v; want the stored object, with its uid, resourceVersion and namespace", cm)
	}
	// A value, not a pointer, is created all the same.
	if err := c.Create(context.Background(), kube.CollectionPath("", "v1", id.ns, "configmaps"), *newConfigMap("by-value", nil)); err != nil {
		t.Fatalf("Create by value: %v", err)
	}
}

func TestAMergePatchAppliesOnlyToTheVersionItNames(t *testing.T) {
	id := newIdentity(t, allow("", "configmaps", "create", "get", "patch"))
	c := id.client(t)
	ctx := context.Background()
	path := kube.CollectionPath("", "v1", id.ns, "configmaps")
	cm := newConfigMap("patched", map[string]string{"a": "1", "b": "2"})
	if err := c.Create(ctx, path, cm); err != nil {
		t.Fatal(err)
	}
	first := cm.Metadata.ResourceVersion

	var got configMap
	patch := map[string]any{"metadata": map[string]any{"resourceVersion": first}, "data": map[string]string{"b": "3"}}
	if err := c.MergePatch(ctx, path+"/patched", patch, &got); err != nil {
		t.Fatalf("a patch of the current version: %v", err)
	}
	if got.Data["a"] != "1" || got.Data["b"] != "3" || got.Metadata.ResourceVersion == first {
		t.Errorf("after the patch the object is %+v; want a kept, b changed, a new resourceVersion", got)
	}
	// The version it named is gone: a writer that read it must reread.
	err := c.MergePatch(ctx, path+"/patched", map[string]any{"metadata": map[string]any{"resourceVersion": first}, "data": map[string]string{"b": "4"}}, nil)
	if k := kinds(err); !slices.Equal(k, []string{"Conflict"}) {
		t.Fatalf("a patch of a superseded version: %v is %v; want Conflict", err, k)
	}
	if err := c.Get(ctx, path+"/patched", &got); err != nil || got.Data["b"] != "3" {
		t.Errorf("the refused patch changed the object: %+v (%v)", got.Data, err)
	}
	err = c.MergePatch(ctx, path+"/missing", map[string]any{"data": map[string]string{"b": "4"}}, nil)
	if k := kinds(err); !slices.Equal(k, []string{"NotFound"}) {
		t.Errorf("a patch of a missing object: %v is %v; want NotFound", err, k)
	}
}

func TestListAppliesSelectors(t *testing.T) {
	id := newIdentity(t, allow("", "configmaps", "list"))
	for name, labels := range map[string]map[string]string{
		"alice": {"app": "jack"}, "bob": {"app": "jack"}, "carol": {"app": "other"},
	} {
		create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: id.ns, Labels: labels}})
	}
	c := id.client(t)
	tests := map[string]struct {
		opts kube.ListOptions
		want []string
	}{
		"no selector lists everything":          {kube.ListOptions{}, []string{"alice", "bob", "carol"}},
		"a label selector narrows the list":     {kube.ListOptions{LabelSelector: "app=jack"}, []string{"alice", "bob"}},
		"a field selector narrows the list":     {kube.ListOptions{FieldSelector: "metadata.name=carol"}, []string{"carol"}},
		"both selectors narrow it together":     {kube.ListOptions{LabelSelector: "app=jack", FieldSelector: "metadata.name!=alice"}, []string{"bob"}},
		"a selector that matches nothing is ok": {kube.ListOptions{LabelSelector: "app=none"}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var list kube.List[configMap]
			if err := c.List(context.Background(), kube.CollectionPath("", "v1", id.ns, "configmaps"), tc.opts, &list); err != nil {
				t.Fatalf("List: %v", err)
			}
			var got []string
			for _, cm := range list.Items {
				got = append(got, cm.Metadata.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || list.Metadata.ResourceVersion == "" {
				t.Errorf("listed %v at version %q; want %v at some version", got, list.Metadata.ResourceVersion, tc.want)
			}
		})
	}
}

func TestFailingToReachTheServerIsATransportError(t *testing.T) {
	id := newIdentity(t, allow("", "configmaps", "list"))
	token, err := os.ReadFile(id.config().TokenFile)
	if err != nil {
		t.Fatal(err)
	}

	// Another CA than the one that signed the API server's certificate.
	other := httptest.NewTLSServer(nil)
	other.Close()
	otherCA := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(otherCA, pemOf(other.Certificate().Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	wrongCA := id.config()
	wrongCA.CAFile = otherCA

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := id.config()
	closedPort.Host = "https://" + ln.Addr().String()
	ln.Close()

	tests := map[string]struct {
		cfg  kube.Config
		says string
	}{
		"a server whose certificate the CA does not vouch for": {wrongCA, "certificate"},
		"a port nothing listens on":                            {closedPort, "connection refused"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var list kube.List[configMap]
			err := newClient(t, tc.cfg).List(context.Background(), kube.CollectionPath("", "v1", id.ns, "configmaps"), kube.ListOptions{}, &list)
			if got := kinds(err); !slices.Equal(got, []string{"Transport"}) {
				t.Fatalf("error %v is %v; want a transport error", err, got)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			if strings.Contains(err.Error(), strings.TrimSpace(string(token))) {
				t.Errorf("the error quotes the bearer token: %v", err)
			}
		})
	}
	t.Run("the caller's context ending is its own error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var list kube.List[configMap]
		err := id.client(t).List(ctx, kube.CollectionPath("", "v1", id.ns, "configmaps"), kube.ListOptions{}, &list)
		if !errors.Is(err, context.Canceled) || kube.IsTransport(err) {
			t.Errorf("error %v; want context.Canceled, not a transport error", err)
		}
	})
	t.Run("connection refused is recognizable", func(t *testing.T) {
		var list kube.List[configMap]
		err := newClient(t, closedPort).List(context.Background(), "/api/v1/namespaces/x/configmaps", kube.ListOptions{}, &list)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("error %v does not unwrap to ECONNREFUSED", err)
		}
	})
}

func TestNewRefusesWhatCannotWork(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	token := filepath.Join(dir, "token")
	for path, content := range map[string]string{notPEM: "not a certificate", token: "a-token"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]struct {
		cfg  kube.Config
		says string
	}{
		"an address that is not a URL":    {kube.Config{Host: "10.0.0.1:443"}, "not an http(s) URL"},
		"a token over plain http":         {kube.Config{Host: "http://10.0.0.1", TokenFile: token}, "plain http"},
		"a CA file that is missing":       {kube.Config{Host: "https://10.0.0.1", CAFile: filepath.Join(dir, "missing")}, "reading the API server's CA"},
		"a CA file without a certificate": {kube.Config{Host: "https://10.0.0.1", CAFile: notPEM}, "no PEM certificate"},
		"a token file that is missing":    {kube.Config{Host: "https://10.0.0.1", TokenFile: filepath.Join(dir, "gone")}, "gone"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := kube.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("New: %v; want an error saying %q", err, tc.says)
			}
		})
	}
}

func pemOf(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
