package operator

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers"
	"github.com/jack-io/jack-operator/internal/version"
	"github.com/jack-io/jack-operator/webhooks/inject"
)

// Run builds the operator's manager and runs it until ctx ends.
func Run(ctx context.Context, c *Completed, cfg *rest.Config) error {
	mgr, err := c.NewManager(cfg)
	if err != nil {
		return err
	}
	info := version.Get(Program)
	ctrl.Log.WithName("setup").Info("starting the operator", "version", info.Version, "revision", info.RevisionLabel(), "goVersion", info.GoVersion,
		"leaderElection", c.LeaderElect, "webhooks", c.Webhooks)
	return mgr.Start(ctx)
}

// NewManager is the operator: a manager reaching the API server with cfg,
// with every controller, webhook and check that the options ask for, not
// started. Each of adjust may change the manager's options before it is
// built; a test that runs the operator more than once in one process skips
// controller-runtime's check that controller names are unique.
func (c *Completed) NewManager(cfg *rest.Config, adjust ...func(*ctrl.Options)) (ctrl.Manager, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := authv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}

	// The Lease lives in the operator's namespace, where the chart's and
	// config/default's leader election Role grants it: in a pod, the namespace
	// controller-runtime would read from the service account; named, so the
	// operator can also elect outside a pod.
	opts := ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: c.MetricsAddr},
		HealthProbeBindAddress:        c.ProbeAddr,
		LeaderElection:                c.LeaderElect,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       c.Namespace,
		LeaderElectionReleaseOnCancel: true,
		// Secrets and ConfigMaps: whole only the operator's own, the metadata
		// of other Secrets beside them (controllers.NewCache).
		Cache:         cache.Options{ByObject: controllers.CacheByObjectFor(c.Sidecar.PodSelector()), DefaultNamespaces: c.cacheNamespaces()},
		NewCache:      controllers.NewCache,
		WebhookServer: webhook.NewServer(webhook.Options{Host: c.WebhookHost, Port: c.WebhookPort, CertDir: c.WebhookCertDir, TLSOpts: c.certTLS}),
	}
	for _, f := range adjust {
		f(&opts)
	}
	mgr, err := ctrl.NewManager(cfg, opts)
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
		MinPasswordLength: c.MinPasswordLength,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the JackUser controller: %w", err)
	}
	if err := (&controllers.JackAPIKeyReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("jackapikey-controller"),
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the JackAPIKey controller: %w", err)
	}
	if err := (&controllers.SidecarAccessReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the sidecar access controller: %w", err)
	}
	if err := (&controllers.TokenRevocationReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the TokenRevocation controller: %w", err)
	}
	if err := (&controllers.SessionsEndReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the sessions-end controller: %w", err)
	}
	if err := (&controllers.UserLoginReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the user-login controller: %w", err)
	}
	if c.Webhooks {
		// The pods the webhook should have injected and did not: only where
		// the operator is the one that injects.
		if err := (&controllers.MissedInjectionReconciler{
			Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("missed-injection"), Config: c.inject,
		}).SetupWithManager(mgr); err != nil {
			return nil, fmt.Errorf("setting up the missed-injection detector: %w", err)
		}
		if err := controllers.SetupJackUserWebhookWithManager(mgr, mgr.GetClient()); err != nil {
			return nil, fmt.Errorf("setting up the JackUser webhook: %w", err)
		}
		mgr.GetWebhookServer().Register(inject.WebhookPath, &webhook.Admission{Handler: c.onlyWatched(&inject.Webhook{
			Reader: mgr.GetClient(), Decoder: admission.NewDecoder(scheme), Recorder: mgr.GetEventRecorder("pod-injector"), Config: c.inject,
		})})
	}
	if err := c.setupCerts(mgr); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	readyCheck := healthz.Ping
	if c.Webhooks {
		readyCheck = mgr.GetWebhookServer().StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", readyCheck); err != nil {
		return nil, err
	}
	return mgr, nil
}

// onlyWatched lets a pod outside --watch-namespaces through untouched: the
// operator reads nothing there (the chart's webhook configuration does not
// even send such pods, this is for any other).
func (c *Completed) onlyWatched(h admission.Handler) admission.Handler {
	if len(c.WatchNamespaces) == 0 {
		return h
	}
	return admission.HandlerFunc(func(ctx context.Context, req admission.Request) admission.Response {
		if !slices.Contains(c.WatchNamespaces, req.Namespace) {
			return admission.Allowed(fmt.Sprintf("jack-operator watches only the namespaces %s", strings.Join(c.WatchNamespaces, ", ")))
		}
		return h.Handle(ctx, req)
	})
}
