// Package operator is the jack-operator's command line: its options and
// their flags, Complete, which checks them, and the manager they wire, with
// every controller, webhook and check. The operator's main.go and the
// chart's RBAC test (test/rbac) use it; the sidecar does not.
package operator

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/version"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// Leader election: the one Lease, LeaderElectionID, in the operator's own
// namespace ("system" is kustomize's and the chart's placeholder for it;
// hack/chartgen puts these rules in a Role there). Its name is known, so
// only creating it, which RBAC cannot limit by name, is granted for any.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=create,namespace=system
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;update,resourceNames=jack-operator.auth.jack.io,namespace=system

// LeaderElectionID names the Lease that elects the one replica that acts.
const LeaderElectionID = "jack-operator.auth.jack.io"

// Options are the operator's command-line settings.
type Options struct {
	MetricsAddr       string
	ProbeAddr         string
	LeaderElect       bool
	Webhooks          bool
	WebhookHost       string
	WebhookPort       int
	WebhookCertDir    string
	MinPasswordLength int
	// Namespace is the operator's own: its Lease and webhook certificates
	// live there, and its pods are never injected.
	Namespace string
	// WatchNamespaces, when set, are the only namespaces whose JackUsers,
	// SigningKeys, Secrets and pods the operator reads, reconciles and
	// injects (--watch-namespaces); empty for every namespace.
	WatchNamespaces []string
	// Sidecar are the injected sidecar's defaults (--sidecar-* flags).
	Sidecar inject.Config
	// Certs are the webhook serving certificate's flags (webhookcerts.go).
	Certs WebhookCertOptions
	// Zap are the logger's flags (--zap-*).
	Zap zap.Options
}

// AddFlags registers the operator's flags on fs; parsing fs fills o. The
// Helm chart passes them by these names, and the chart's RBAC test parses
// the chart's own arguments with it. The default of --operator-namespace
// is $POD_NAMESPACE, read when AddFlags runs.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; \"0\" turns it off.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "Elect a leader so that only one replica acts; turn on when running more than one.")
	fs.BoolVar(&o.Webhooks, "enable-webhooks", true, "Serve the admission webhooks (JackUser uniqueness).")
	fs.StringVar(&o.WebhookHost, "webhook-host", "", "Address the webhook server listens on; empty for all.")
	fs.IntVar(&o.WebhookPort, "webhook-port", 9443, "Port the webhook server listens on.")
	fs.StringVar(&o.WebhookCertDir, "webhook-cert-dir", "", "Directory holding the webhook server's tls.crt and tls.key in --webhook-cert-mode=files; empty for controller-runtime's default.")
	o.Certs.AddFlags(fs)
	fs.IntVar(&o.MinPasswordLength, "min-password-length", password.DefaultMinLength, "Shortest JackUser password accepted, in characters.")
	fs.StringVar(&o.Namespace, "operator-namespace", envOr("POD_NAMESPACE", "jack-system"), "The operator's own namespace, whose pods are never injected.")
	fs.Func("watch-namespaces", "Comma-separated namespaces the operator alone reconciles and injects in, for RBAC granted by Roles in them; empty for every namespace.", func(v string) error {
		o.WatchNamespaces = splitNamespaces(v)
		return nil
	})
	o.Sidecar = inject.DefaultConfig()
	o.Sidecar.NativeSidecars = true
	o.Sidecar.AddFlags(fs)
	o.Zap.BindFlags(fs)
}

// Completed options have been checked, and what they name is loaded.
type Completed struct {
	Options
	// inject is the injection webhook's configuration, with the version.
	inject inject.Config
	// certTLS and setupCerts are the webhook serving certificate's
	// management (webhookcerts.go).
	certTLS    []func(*tls.Config)
	setupCerts func(ctrl.Manager) error
}

// Complete checks the options, with an error a user can act on, and loads
// the webhook serving certificate in files mode.
func (o Options) Complete() (*Completed, error) {
	c := &Completed{Options: o, setupCerts: func(ctrl.Manager) error { return nil }}
	for _, ns := range o.WatchNamespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return nil, fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", ns, strings.Join(msgs, "; "))
		}
	}
	if o.MinPasswordLength < 1 {
		return nil, fmt.Errorf("--min-password-length must be at least 1, not %d", o.MinPasswordLength)
	}
	if !o.Webhooks {
		return c, nil
	}
	var err error
	if c.certTLS, c.setupCerts, err = webhookCerts(o.Certs, o.WebhookCertDir, o.Namespace); err != nil {
		return nil, err
	}
	c.inject = o.Sidecar
	c.inject.Version, c.inject.OperatorNamespace = version.Version, o.Namespace
	if err := c.inject.Validate(); err != nil {
		return nil, fmt.Errorf("the injection settings: %w", err)
	}
	return c, nil
}

// splitNamespaces reads a comma-separated list, without empty items or
// repeats.
func splitNamespaces(v string) []string {
	var out []string
	for _, ns := range strings.Split(v, ",") {
		if ns = strings.TrimSpace(ns); ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// cacheNamespaces are the manager cache's namespaces: nil for all.
func (o Options) cacheNamespaces() map[string]cache.Config {
	if len(o.WatchNamespaces) == 0 {
		return nil
	}
	m := make(map[string]cache.Config, len(o.WatchNamespaces))
	for _, ns := range o.WatchNamespaces {
		m[ns] = cache.Config{}
	}
	return m
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
