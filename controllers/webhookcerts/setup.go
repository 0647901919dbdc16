package webhookcerts

import (
	"context"
	"errors"
	"fmt"
	"slices"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// ServiceDNSNames are the names the API server dials a webhook Service by.
func ServiceDNSNames(service, namespace string) []string {
	return []string{service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"}
}

// Setup adds the certificate management to mgr: a cache of the one Secret
// and of the webhook configurations, serving's watch of the Secret (every
// replica), and r (the leader). r's unset dependencies take the manager's.
// The webhook server must use serving.ConfigureTLS, and the readiness
// checks should include serving.Checker.
func Setup(mgr ctrl.Manager, r *Reconciler, serving *ServingCertificate) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.Reader == nil {
		r.Reader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("webhook-certificates")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	// A cache of its own: the manager's may be limited to some namespaces
	// or hold no Secrets, and this one holds exactly what is watched here.
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(),
		Mapper: mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {
				Namespaces: map[string]cache.Config{r.Secret.Namespace: {}},
				Field:      fields.OneTermEqualSelector("metadata.name", r.Secret.Name),
			},
			// By name, so RBAC may grant the operator only these.
			&admissionregistrationv1.ValidatingWebhookConfiguration{}: {Field: onlyNamed(r.ValidatingWebhookConfigurations)},
			&admissionregistrationv1.MutatingWebhookConfiguration{}:   {Field: onlyNamed(r.MutatingWebhookConfigurations)},
		},
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return fmt.Errorf("creating the webhook certificates' cache: %w", err)
	}
	c = everyReplica{c}
	if err := mgr.Add(c); err != nil {
		return err
	}
	if err := mgr.Add(&secretWatcher{serving: serving, cache: c, secret: r.Secret, log: mgr.GetLogger().WithName("webhook-certificates")}); err != nil {
		return err
	}
	theSecret := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []ctrl.Request {
		return []ctrl.Request{{NamespacedName: r.Secret}}
	})
	named := func(names []string) predicate.Predicate {
		return predicate.NewPredicateFuncs(func(o client.Object) bool { return slices.Contains(names, o.GetName()) })
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("webhookcerts").
		WatchesRawSource(source.Kind(c, client.Object(&corev1.Secret{}), theSecret)).
		WatchesRawSource(source.Kind(c, client.Object(&admissionregistrationv1.ValidatingWebhookConfiguration{}), theSecret, named(r.ValidatingWebhookConfigurations))).
		WatchesRawSource(source.Kind(c, client.Object(&admissionregistrationv1.MutatingWebhookConfiguration{}), theSecret, named(r.MutatingWebhookConfigurations))).
		Complete(r)
}

// onlyNamed selects the one object of names by its name; with several, or
// none, it selects all (a field selector cannot ask for a set of names).
func onlyNamed(names []string) fields.Selector {
	if len(names) != 1 {
		return nil
	}
	return fields.OneTermEqualSelector("metadata.name", names[0])
}

// everyReplica is a cache that runs whether its replica leads or not. A
// cache with per-object settings, as cache.New makes it, does not say, and
// the manager runs what does not say in the leader only: the Secret would
// never reach the ServingCertificate of any other replica.
type everyReplica struct{ cache.Cache }

// NeedLeaderElection is false: every replica serves the certificate.
func (everyReplica) NeedLeaderElection() bool { return false }

// Validate says what is wrong with r's settings, before anything runs.
func (r *Reconciler) Validate() error {
	var errs []error
	if r.Secret.Namespace == "" || r.Secret.Name == "" {
		errs = append(errs, fmt.Errorf("the webhook certificate Secret needs a namespace and a name, not %q", r.Secret.String()))
	}
	if err := r.Settings.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("webhook certificate settings: %w", err))
	}
	if len(r.ValidatingWebhookConfigurations)+len(r.MutatingWebhookConfigurations) == 0 {
		errs = append(errs, errors.New("no webhook configuration to publish the webhook CA in"))
	}
	for _, n := range append(slices.Clone(r.ValidatingWebhookConfigurations), r.MutatingWebhookConfigurations...) {
		if n == "" {
			errs = append(errs, errors.New("a webhook configuration name is empty"))
		}
	}
	return errors.Join(errs...)
}
