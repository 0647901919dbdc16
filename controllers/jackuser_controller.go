package controllers

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// passwordSecretIndex indexes JackUsers by the Secret holding their password.
const passwordSecretIndex = "spec.passwordSecretRef.name"

// DefaultDirectoryBatchDelay is how long a change waits for others before the
// namespace's directory is rebuilt, so that a burst of changes becomes a few
// Secret writes rather than one per change.
const DefaultDirectoryBatchDelay = 200 * time.Millisecond

// DefaultMinWriteInterval spaces a namespace's directory writes during a
// burst of changes: a rebuild that comes sooner after the last write waits
// for the rest of it, gathering whatever else changes meanwhile.
const DefaultMinWriteInterval = 500 * time.Millisecond

// JackUserReconciler keeps each namespace's user directory Secret in step with
// its JackUsers and their password Secrets, and reports each user's status.
//
// It reconciles a whole namespace at a time (the request's name is the
// directory Secret's): the directory is one Secret, so building it once from
// every user batches a burst of changes into one write, and a write happens
// only when the directory's bytes change.
type JackUserReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// HashParams are the argon2id parameters new hashes use; hashes made
	// with others are upgraded the next time the password is read.
	HashParams password.Params
	// MinPasswordLength is the shortest password accepted, in characters.
	MinPasswordLength int
	// BatchDelay is how long changes gather before a rebuild.
	BatchDelay time.Duration
	// MinWriteInterval is the least time between two writes of one
	// namespace's directory; zero writes whenever a rebuild changes it.
	MinWriteInterval time.Duration

	// lastWrite remembers when each namespace's directory was last written.
	lastWrite sync.Map // namespace → time.Time
}

// +kubebuilder:rbac:groups=auth.jack.io,resources=jackusers,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=jackusers/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile rebuilds one namespace's user directory and its users' status.
func (r *JackUserReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := req.Namespace
	now := r.Clock.Now().UTC()
	if last, ok := r.lastWrite.Load(ns); ok {
		if wait := r.MinWriteInterval - time.Since(last.(time.Time)); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}

	var users authv1alpha1.JackUserList
	if err := r.List(ctx, &users, client.InNamespace(ns)); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing JackUsers in %s: %w", ns, err)
	}
	current, err := r.currentDirectory(ctx, ns)
	if err != nil {
		return ctrl.Result{}, err
	}
	if current.conflict != "" {
		return ctrl.Result{}, r.reportAll(ctx, users.Items, authv1alpha1.ReasonDirectoryConflict, current.conflict)
	}

	plans, err := r.planUsers(ctx, users.Items, current.dir, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	runHashJobs(plans)
	for i := range plans {
		plans[i].finish(now)
	}

	encoded, err := fitDirectory(plans)
	if err != nil {
		return ctrl.Result{}, err
	}
	if wrote, err := r.writeDirectory(ctx, ns, current.secret, encoded); err != nil {
		return ctrl.Result{}, err
	} else if wrote {
		r.lastWrite.Store(ns, time.Now())
	}
	directoryUsers.WithLabelValues(ns).Set(float64(countIncluded(plans)))
	directoryBytes.WithLabelValues(ns).Set(float64(len(encoded)))

	// The directory is written: what it says is now true, so the status and
	// events may say it too.
	var errs []error
	for i := range plans {
		if err := r.reportUser(ctx, &plans[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if lostRace(errs...) {
		return ctrl.Result{RequeueAfter: raceRetryDelay}, nil
	}
	logf.FromContext(ctx).V(1).Info("user directory reconciled", "namespace", ns, "users", len(plans), "bytes", len(encoded))
	return ctrl.Result{}, kerrors.NewAggregate(errs)
}

// planUsers decides every user's entry, oldest user first, so that when two
// claim one email or id the older keeps it.
func (r *JackUserReconciler) planUsers(ctx context.Context, users []authv1alpha1.JackUser, current *userdir.Directory, now time.Time) ([]userPlan, error) {
	slices.SortFunc(users, func(a, b authv1alpha1.JackUser) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	index := current.Index()
	byEmail, byID := map[string]string{}, map[string]string{}
	plans := make([]userPlan, 0, len(users))
	for i := range users {
		u := &users[i]
		if !u.DeletionTimestamp.IsZero() {
			continue
		}
		id := u.EffectiveID()
		if id == "" {
			id = generatedID(u)
		}
		email := strings.ToLower(u.Spec.Email)
		if other, taken := byEmail[email]; taken {
			plans = append(plans, userPlan{user: u, id: id, excluded: true, reason: authv1alpha1.ReasonDuplicateEmail,
				message: fmt.Sprintf("JackUser %s already has the email %s; only it can log in", other, email)})
			continue
		}
		if other, taken := byID[id]; taken {
			plans = append(plans, userPlan{user: u, id: id, excluded: true, reason: authv1alpha1.ReasonDuplicateID,
				message: fmt.Sprintf("JackUser %s already has the id %s; only it can log in", other, id)})
			continue
		}
		byEmail[email], byID[id] = u.Name, u.Name

		secret, err := r.passwordSecret(ctx, u)
		if err != nil {
			return nil, err
		}
		prev, _ := index.ByID(id)
		plans = append(plans, planUser(u, secret, prev, id, now, r.HashParams, r.MinPasswordLength))
	}
	return plans, nil
}

func (r *JackUserReconciler) passwordSecret(ctx context.Context, u *authv1alpha1.JackUser) (*corev1.Secret, error) {
	var s corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: u.Namespace, Name: u.Spec.PasswordSecretRef.Name}, &s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the password Secret of JackUser %s: %w", u.Name, err)
	}
	return &s, nil
}

// runHashJobs hashes and verifies passwords on every core: argon2id is
// deliberately slow, and a namespace's first reconcile hashes every user.
func runHashJobs(plans []userPlan) {
	jobs := make(chan *hashJob)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range jobs {
				start := time.Now()
				j.run()
				passwordHashSeconds.Observe(time.Since(start).Seconds())
			}
		})
	}
	for i := range plans {
		if plans[i].job != nil {
			jobs <- plans[i].job
		}
	}
	close(jobs)
	wg.Wait()
}

// SetupWithManager registers the reconciler: JackUsers, their password
// Secrets, the directory Secret and SigningKeys each enqueue their namespace, after
// BatchDelay so that changes arriving together are reconciled together.
func (r *JackUserReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.HashParams == (password.Params{}) {
		r.HashParams = password.DefaultParams
	}
	if r.MinPasswordLength == 0 {
		r.MinPasswordLength = password.DefaultMinLength
	}
	if r.BatchDelay == 0 {
		r.BatchDelay = DefaultDirectoryBatchDelay
	}
	if r.MinWriteInterval == 0 {
		r.MinWriteInterval = DefaultMinWriteInterval
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &authv1alpha1.JackUser{}, passwordSecretIndex,
		func(o client.Object) []string {
			return []string{o.(*authv1alpha1.JackUser).Spec.PasswordSecretRef.Name}
		}); err != nil {
		return err
	}
	if err := IndexJackUsers(mgr.GetFieldIndexer()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("jackuser").
		Watches(&authv1alpha1.JackUser{}, r.enqueueNamespace(func(context.Context, client.Object) bool { return true })).
		Watches(&corev1.Secret{}, r.enqueueNamespace(r.secretMatters)).
		// A namespace with a SigningKey gets a directory even before its first
		// user, so injected sidecars (which wait for one) become ready.
		Watches(&authv1alpha1.SigningKey{}, r.enqueueNamespace(func(context.Context, client.Object) bool { return true })).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(r)
}

// secretMatters is true for the directory Secret and for Secrets a JackUser
// names as its password.
func (r *JackUserReconciler) secretMatters(ctx context.Context, o client.Object) bool {
	if o.GetName() == jack.UserDirectorySecretName {
		return true
	}
	var users authv1alpha1.JackUserList
	if err := r.List(ctx, &users, client.InNamespace(o.GetNamespace()), client.MatchingFields{passwordSecretIndex: o.GetName()}, client.Limit(1)); err != nil {
		logf.FromContext(ctx).Error(err, "listing JackUsers that use a Secret", "secret", client.ObjectKeyFromObject(o))
		return true
	}
	return len(users.Items) > 0
}

// enqueueNamespace maps an object to its namespace's directory, delayed by
// BatchDelay; the queue folds repeated requests for one namespace into one.
func (r *JackUserReconciler) enqueueNamespace(matters func(context.Context, client.Object) bool) handler.EventHandler {
	add := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if o == nil || !matters(ctx, o) {
			return
		}
		q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: jack.UserDirectorySecretName}}, r.BatchDelay)
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(ctx, e.Object, q)
		},
	}
}
