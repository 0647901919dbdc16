// Command manager is the jack-operator: it reconciles JackUsers and
// SigningKeys and serves the admission webhooks.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// Leader election and the events the operator reports.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update

// leaderElectionID names the Lease that elects the one replica that acts.
const leaderElectionID = "jack-operator.auth.jack.io"

// options are the operator's command-line settings.
type options struct {
	metricsAddr       string
	probeAddr         string
	leaderElect       bool
	webhooks          bool
	webhookHost       string
	webhookPort       int
	webhookCertDir    string
	minPasswordLength int
	operatorNamespace string
	// sidecar are the injected sidecar's defaults (--sidecar-* flags).
	sidecar inject.Config
	certs   webhookCertOptions
}

// version is the operator's version, recorded on the pods it injects; set
// with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var o options
	zapOpts := zap.Options{}
	bindFlags(flag.CommandLine, &o, &zapOpts)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(o); err != nil {
		ctrl.Log.WithName("setup").Error(err, "operator stopped")
		os.Exit(1)
	}
}

// bindFlags registers the operator's flags on fs; parsing fs fills o and
// zapOpts. The Helm chart passes them by these names, and the chart's RBAC
// test parses the chart's own arguments with it.
func bindFlags(fs *flag.FlagSet, o *options, zapOpts *zap.Options) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; \"0\" turns it off.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so that only one replica acts; turn on when running more than one.")
	fs.BoolVar(&o.webhooks, "enable-webhooks", true, "Serve the admission webhooks (JackUser uniqueness).")
	fs.StringVar(&o.webhookHost, "webhook-host", "", "Address the webhook server listens on; empty for all.")
	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "Port the webhook server listens on.")
	fs.StringVar(&o.webhookCertDir, "webhook-cert-dir", "", "Directory holding the webhook server's tls.crt and tls.key in --webhook-cert-mode=files; empty for controller-runtime's default.")
	o.certs.bindFlags(fs)
	fs.IntVar(&o.minPasswordLength, "min-password-length", password.DefaultMinLength, "Shortest JackUser password accepted, in characters.")
	fs.StringVar(&o.operatorNamespace, "operator-namespace", envOr("POD_NAMESPACE", "jack-system"), "The operator's own namespace, whose pods are never injected.")
	o.sidecar = inject.DefaultConfig()
	o.sidecar.NativeSidecars = true
	o.sidecar.AddFlags(fs)
	zapOpts.BindFlags(fs)
}

func run(o options) error {
	mgr, err := newManager(ctrl.GetConfigOrDie(), o)
	if err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("starting the operator", "leaderElection", o.leaderElect, "webhooks", o.webhooks)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// newManager is the operator: a manager reaching the API server with cfg,
// with every controller, webhook and check that o asks for, not started.
func newManager(cfg *rest.Config, o options) (ctrl.Manager, error) {
	if o.minPasswordLength < 1 {
		return nil, fmt.Errorf("--min-password-length must be at least 1, not %d", o.minPasswordLength)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := authv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}

	// The webhook serving certificate: the operator's own, or files (see webhook_certs.go).
	var certTLSOpts []func(*tls.Config)
	setupCerts := func(ctrl.Manager) error { return nil }
	if o.webhooks {
		var err error
		if certTLSOpts, setupCerts, err = webhookCerts(o.certs, o.webhookCertDir, o.operatorNamespace); err != nil {
			return nil, err
		}
	}

	// The Lease lives in the operator's namespace, where the chart's and
	// config/default's leader election Role grants it: in a pod, the namespace
	// controller-runtime would read from the service account; named, so the
	// operator can also elect outside a pod.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       o.operatorNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cache.Options{ByObject: controllers.CacheByObject()},
		WebhookServer:                 webhook.NewServer(webhook.Options{Host: o.webhookHost, Port: o.webhookPort, CertDir: o.webhookCertDir, TLSOpts: certTLSOpts}),
	})
	if err != nil {
		return nil, err
	}
	if err := (&controllers.SigningKeyReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("signingkey-controller"),
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the SigningKey controller: %w", err)
	}
	if err := (&controllers.JackUserReconciler{
		Client:            mgr.GetClient(),
		Recorder:          mgr.GetEventRecorder("jackuser-controller"),
		MinPasswordLength: o.minPasswordLength,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the JackUser controller: %w", err)
	}
	if err := (&controllers.SidecarAccessReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the sidecar access controller: %w", err)
	}
	if err := (&controllers.TokenRevocationReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the TokenRevocation controller: %w", err)
	}
	if o.webhooks {
		if err := controllers.SetupJackUserWebhookWithManager(mgr, mgr.GetClient()); err != nil {
			return nil, fmt.Errorf("setting up the JackUser webhook: %w", err)
		}
		injectCfg := o.sidecar
		injectCfg.Version, injectCfg.OperatorNamespace = version, o.operatorNamespace
		if err := injectCfg.Validate(); err != nil {
			return nil, fmt.Errorf("the injection settings: %w", err)
		}
		mgr.GetWebhookServer().Register(inject.WebhookPath, &webhook.Admission{Handler: &inject.Webhook{
			Reader: mgr.GetClient(), Decoder: admission.NewDecoder(scheme), Recorder: mgr.GetEventRecorder("pod-injector"), Config: injectCfg,
		}})
	}
	if err := setupCerts(mgr); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	readyCheck := healthz.Ping
	if o.webhooks {
		readyCheck = mgr.GetWebhookServer().StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", readyCheck); err != nil {
		return nil, err
	}

	return mgr, nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
