// Package testenv starts a real kube-apiserver and etcd, built from source
// into bin/ by hack/build-tools.sh, with the project's generated CRDs
// installed. Tests and the local demo control plane both use it, so they run
// against exactly the API a cluster would serve.
//
// Used by tests alone: the operator's (controllers/…), the API's validation
// tests, the sidecar's and those under test/.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// startTimeout is generous: on a 2-core machine a cold kube-apiserver takes
// several seconds to serve, and envtest's 20s default is tight under load.
const startTimeout = 90 * time.Second

// Env is a running control plane.
type Env struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Client is a controller-runtime client built from Config and the scheme.
	Client client.Client
	// KubeConfig is a kubeconfig file's content equivalent to Config.
	KubeConfig []byte
	// RepoRoot is the project's root directory.
	RepoRoot string
	// Webhook is where the API server calls the admission webhooks of
	// config/webhook: a webhook server must listen on Host:Port with the
	// certificate in CertDir, which the API server trusts.
	Webhook WebhookServing

	env *envtest.Environment
}

// Option changes what Start sets up.
type Option func(*options)

type options struct {
	webhooks bool
	crds     []string
}

// WithWebhooks installs the admission webhooks of config/webhook, pointed at
// a local server the caller must run (see Env.Webhook). Without it, objects
// are admitted without them.
func WithWebhooks() Option { return func(o *options) { o.webhooks = true } }

// WithCRDs installs only these files of config/crd/bases (such as
// "auth.jack.io_jackusers.yaml") instead of all of them: for tests of what a
// cluster without some kind does.
func WithCRDs(files ...string) Option { return func(o *options) { o.crds = files } }

// WebhookServing is the address and certificate a local webhook server uses.
type WebhookServing struct {
	Host    string
	Port    int
	CertDir string
}

// Start runs etcd and kube-apiserver from bin/ and installs the CRDs found in
// config/crd/bases. The scheme must know the project's kinds.
func Start(scheme *runtime.Scheme, opts ...Option) (*Env, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin")
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, name)); err != nil {
			return nil, fmt.Errorf("%s is not in %s: run `make tools` (hack/build-tools.sh) to build it from source", name, assets)
		}
	}
	env := &envtest.Environment{
		Scheme:                   scheme,
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: startTimeout,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	if o.crds != nil {
		env.CRDDirectoryPaths = nil
		for _, f := range o.crds {
			env.CRDDirectoryPaths = append(env.CRDDirectoryPaths, filepath.Join(root, "config", "crd", "bases", f))
		}
	}
	if o.webhooks {
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{
			Paths: []string{
				filepath.Join(root, "config", "webhook", "manifests.yaml"),
				filepath.Join(root, "config", "webhook", "pod-injection.yaml"),
			},
		}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("building a client for the test API server: %w", err)
	}
	wh := env.WebhookInstallOptions
	return &Env{
		Config: cfg, Client: c, KubeConfig: env.KubeConfig, RepoRoot: root, env: env,
		Webhook: WebhookServing{Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir},
	}, nil
}

// Stop ends the API server and etcd and removes their data.
func (e *Env) Stop() error {
	return e.env.Stop()
}

// RepoRoot finds the project's root: the nearest directory upwards from the
// working directory whose go.mod declares the project's module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && isProjectModule(mod) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the jack-operator repository root above the working directory")
		}
		dir = parent
	}
}

const modulePath = "github.com/jack-io/jack-operator"

func isProjectModule(goMod []byte) bool {
	first := goMod
	for i, b := range goMod {
		if b == '\n' {
			first = goMod[:i]
			break
		}
	}
	return string(first) == "module "+modulePath
}
