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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers"
	"github.com/jack-io/jack-operator/internal/inject"
	"github.com/jack-io/jack-operator/internal/password"
)

// Leader election and the events the operator reports.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete

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
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; \"0\" turns it off.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so that only one replica acts; turn on when running more than one.")
	flag.BoolVar(&o.webhooks, "enable-webhooks", true, "Serve the admission webhooks (JackUser uniqueness).")
	flag.StringVar(&o.webhookHost, "webhook-host", "", "Address the webhook server listens on; empty for all.")
	flag.IntVar(&o.webhookPort, "webhook-port", 9443, "Port the webhook server listens on.")
	flag.StringVar(&o.webhookCertDir, "webhook-cert-dir", "", "Directory holding the webhook server's tls.crt and tls.key in --webhook-cert-mode=files; empty for controller-runtime's default.")
	o.certs.bindFlags(flag.CommandLine)
	flag.IntVar(&o.minPasswordLength, "min-password-length", password.DefaultMinLength, "Shortest JackUser password accepted, in characters.")
	flag.StringVar(&o.operatorNamespace, "operator-namespace", envOr("POD_NAMESPACE", "jack-system"), "The operator's own namespace, whose pods are never injected.")
	o.sidecar = inject.DefaultConfig()
	o.sidecar.NativeSidecars = true
	o.sidecar.AddFlags(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(o); err != nil {
		ctrl.Log.WithName("setup").Error(err, "operator stopped")
		os.Exit(1)
	}
}

func run(o options) error {
	if o.minPasswordLength < 1 {
		return fmt.Errorf("--min-password-length must be at least 1, not %d", o.minPasswordLength)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := authv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}

	// The webhook serving certificate: the operator's own, or files (see webhook_certs.go).
	var certTLSOpts []func(*tls.Config)
	setupCerts := func(ctrl.Manager) error { return nil }
	if o.webhooks {
		var err error
		if certTLSOpts, setupCerts, err = webhookCerts(o.certs, o.webhookCertDir, o.operatorNamespace); err != nil {
			return err
		}
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         cache.Options{ByObject: controllers.CacheByObject()},
		WebhookServer:                 webhook.NewServer(webhook.Options{Host: o.webhookHost, Port: o.webhookPort, CertDir: o.webhookCertDir, TLSOpts: certTLSOpts}),
	})
	if err != nil {
		return err
	}
	if err := (&controllers.SigningKeyReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("signingkey-controller"),
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the SigningKey controller: %w", err)
	}
	if err := (&controllers.JackUserReconciler{
		Client:            mgr.GetClient(),
		Recorder:          mgr.GetEventRecorder("jackuser-controller"),
		MinPasswordLength: o.minPasswordLength,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the JackUser controller: %w", err)
	}
	if err := (&controllers.SidecarAccessReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the sidecar access controller: %w", err)
	}
	if err := (&controllers.TokenRevocationReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the TokenRevocation controller: %w", err)
	}
	if o.webhooks {
		if err := controllers.SetupJackUserWebhookWithManager(mgr, mgr.GetClient()); err != nil {
			return fmt.Errorf("setting up the JackUser webhook: %w", err)
		}
		cfg := o.sidecar
		cfg.Version, cfg.OperatorNamespace = version, o.operatorNamespace
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("the injection settings: %w", err)
		}
		mgr.GetWebhookServer().Register(inject.WebhookPath, &webhook.Admission{Handler: &inject.Webhook{
			Reader: mgr.GetClient(), Decoder: admission.NewDecoder(scheme), Recorder: mgr.GetEventRecorder("pod-injector"), Config: cfg,
		}})
	}
	if err := setupCerts(mgr); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	readyCheck := healthz.Ping
	if o.webhooks {
		readyCheck = mgr.GetWebhookServer().StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", readyCheck); err != nil {
		return err
	}

	ctrl.Log.WithName("setup").Info("starting the operator", "leaderElection", o.leaderElect, "webhooks", o.webhooks)
	return mgr.Start(ctrl.SetupSignalHandler())
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
