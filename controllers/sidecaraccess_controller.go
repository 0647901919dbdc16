package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/ensure"
)

// SidecarAccessReconciler keeps, in every namespace with a SigningKey, the
// Role and RoleBinding named jack.SidecarRoleName that let injected sidecars
// learn through the API server what they must know faster than the kubelet
// refreshes a mounted Secret: they read JackUsers (disable, role, ended
// sessions, password changes), read, create and patch TokenRevocations (logouts and sessions at
// other replicas), read SigningKeys (the key that signs now, the keys
// revoked), and read JackAPIKeys (the digests of their valid values).
// Nothing else: no Secret, so the application container, which
// shares the pod's service account, cannot read one either.
//
// The binding's subjects are the service accounts of the pods the webhook
// injected in the namespace (those carrying jack.AnnotationInjectedVersion),
// not every service account there: pods without a sidecar get nothing.
//
// It reconciles a namespace at a time; the request's name is always
// jack.SidecarRoleName.
type SidecarAccessReconciler struct {
	client.Client
}

// SidecarRules are the Role's rules: exactly what a sidecar does through the
// API server.
func SidecarRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{jack.Group}, Resources: []string{jack.ResourceJackUsers}, Verbs: []string{"get", "list", "watch"}},
		// create for a logout; patch for a session's later writes (a
		// refresh, a logout after one, a reused token), which the CRD's
		// rules allow only to make stricter.
		{APIGroups: []string{jack.Group}, Resources: []string{jack.ResourceTokenRevocations}, Verbs: []string{"get", "list", "watch", "create", "patch"}},
		// Each sidecar watches its own SigningKey by name: the active key
		// id in its status and the revoked ids in its spec.
		{APIGroups: []string{jack.Group}, Resources: []string{jack.ResourceSigningKeys}, Verbs: []string{"get", "list", "watch"}},
		// API keys: the digests of their valid values, their role, routes,
		// expiry and disabled flag (never a value, which only the key's
		// Secret holds), so that a new, rotated, disabled or deleted key
		// takes effect at watch speed.
		{APIGroups: []string{jack.Group}, Resources: []string{jack.ResourceJackAPIKeys}, Verbs: []string{"get", "list", "watch"}},
	}
}

// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// The operator can grant sidecars only what it holds itself: every rule of
// SidecarRules is also one of these.
// +kubebuilder:rbac:groups=auth.jack.io,resources=signingkeys,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=jackusers,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=jackapikeys,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=tokenrevocations,verbs=get;list;watch;create;patch;delete

// Reconcile makes one namespace's Role and RoleBinding what its SigningKeys
// and injected pods call for, or removes them when it has no SigningKey.
func (r *SidecarAccessReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := req.Namespace
	var keys authv1alpha1.SigningKeyList
	if err := r.List(ctx, &keys, client.InNamespace(ns)); err != nil {
		return ctrl.Result{}, err
	}
	keys.Items = slices.DeleteFunc(keys.Items, func(k authv1alpha1.SigningKey) bool { return !k.DeletionTimestamp.IsZero() })
	if len(keys.Items) == 0 {
		return ctrl.Result{}, r.remove(ctx, ns)
	}
	accounts, err := r.injectedServiceAccounts(ctx, ns)
	if err != nil {
		return ctrl.Result{}, err
	}
	owners := make([]metav1.OwnerReference, 0, len(keys.Items))
	slices.SortFunc(keys.Items, func(a, b authv1alpha1.SigningKey) int { return strings.Compare(a.Name, b.Name) })
	for _, k := range keys.Items {
		owners = append(owners, metav1.OwnerReference{
			APIVersion: authv1alpha1.GroupVersion.String(), Kind: "SigningKey", Name: k.Name, UID: k.UID,
		})
	}
	meta := metav1.ObjectMeta{
		Name: jack.SidecarRoleName, Namespace: ns, OwnerReferences: owners,
		Labels: map[string]string{jack.LabelComponent: jack.ComponentSidecarAccess, jack.LabelManagedBy: jack.ManagedByValue},
	}
	role := &rbacv1.Role{ObjectMeta: meta, Rules: SidecarRules()}
	subjects := make([]rbacv1.Subject, 0, len(accounts))
	for _, sa := range accounts {
		subjects = append(subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns})
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: *meta.DeepCopy(),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: jack.SidecarRoleName},
		Subjects:   subjects,
	}
	if err := applySidecarObject(ctx, r.Client, role, func(h *rbacv1.Role) { h.Rules = role.Rules }); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, applySidecarObject(ctx, r.Client, binding,
		func(h *rbacv1.RoleBinding) { h.Subjects = binding.Subjects },
		// roleRef cannot change: a binding to another role is recreated.
		ensure.ReplaceWhen(func(h *rbacv1.RoleBinding) bool { return h.RoleRef != binding.RoleRef }))
}

// injectedServiceAccounts lists, sorted and once each, the service accounts
// of the namespace's pods that carry the sidecar.
func (r *SidecarAccessReconciler) injectedServiceAccounts(ctx context.Context, ns string) ([]string, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{jack.LabelInject: "true"}); err != nil {
		return nil, err
	}
	var accounts []string
	for _, p := range pods.Items {
		// A finished pod's sidecar has stopped too.
		if _, injected := p.Annotations[jack.AnnotationInjectedVersion]; !injected || podFinished(&p) {
			continue
		}
		sa := p.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		accounts = append(accounts, sa)
	}
	slices.Sort(accounts)
	return slices.Compact(accounts), nil
}

func podFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// applySidecarObject creates want, or updates the existing object with its
// owner references and what update copies from want. An existing object the
// operator does not manage (without its label) is left alone and an error
// says why.
func applySidecarObject[T any, PT interface {
	*T
	client.Object
}](ctx context.Context, c client.Client, want PT, update func(have PT), opts ...ensure.Option) error {
	notOurs := func() error {
		return fmt.Errorf("%s %s/%s exists and is not managed by the operator (label %s=%s); delete or rename it so sidecars get their access",
			strings.TrimPrefix(fmt.Sprintf("%T", want), "*v1."), want.GetNamespace(), want.GetName(), jack.LabelManagedBy, jack.ManagedByValue)
	}
	var have PT = new(T)
	err := c.Get(ctx, client.ObjectKeyFromObject(want), have)
	switch {
	case apierrors.IsNotFound(err):
		have = nil
	case err != nil:
		return err
	case have.GetLabels()[jack.LabelManagedBy] != jack.ManagedByValue:
		return notOurs()
	}
	_, _, err = ensure.Object(ctx, c, have, want, func(h PT) {
		h.SetOwnerReferences(want.GetOwnerReferences())
		update(h)
	}, opts...)
	if have == nil && apierrors.IsAlreadyExists(err) {
		// The cache holds only the operator's own (see CacheByObject): one
		// that exists without its labels shows up here.
		return notOurs()
	}
	return err
}

// remove deletes the Role and RoleBinding of a namespace without SigningKeys.
// Their owner references would let the garbage collector do it too; doing it
// here ends the access as soon as the last SigningKey goes.
func (r *SidecarAccessReconciler) remove(ctx context.Context, ns string) error {
	for _, o := range []client.Object{&rbacv1.RoleBinding{}, &rbacv1.Role{}} {
		err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: jack.SidecarRoleName}, o)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if o.GetLabels()[jack.LabelManagedBy] != jack.ManagedByValue {
			continue
		}
		if err := r.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

// SetupWithManager registers the reconciler: SigningKeys, opted-in pods and
// the Roles and RoleBindings themselves each enqueue their namespace.
func (r *SidecarAccessReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
		return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: jack.SidecarRoleName}}}
	})
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetName() == jack.SidecarRoleName
	})
	injected := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[jack.LabelInject] == "true"
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("sidecaraccess").
		Watches(&authv1alpha1.SigningKey{}, toNamespace).
		Watches(&corev1.Pod{}, toNamespace, builder.WithPredicates(injected)).
		Watches(&rbacv1.Role{}, toNamespace, builder.WithPredicates(ours)).
		Watches(&rbacv1.RoleBinding{}, toNamespace, builder.WithPredicates(ours)).
		Complete(r)
}
