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
// only when the directory's bytes change. The directory is deleted when the
// namespace's last JackUser and SigningKey are gone (removeUnneededDirectory).
type JackUserReconciler struct {
	client.Client
	// APIReader reads from the API server, uncached: the password Secrets,
	// whose data the cache does not hold (NewCache). The manager's unless
	// set; the Client when neither is.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
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
	// checked remembers, per namespace, the version of each user's password
	// Secret that this process last read whole and planned from (with its
	// settings: the shortest password, the hash parameters), so that later
	// reconciles need only the Secret's metadata while it does not change.
	checked sync.Map // namespace → map[types.UID]string
}

// +kubebuilder:rbac:groups=auth.jack.io,resources=jackusers,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.jack.io,resources=jackusers/status,verbs=get;patch
// delete: the user directory, once no JackUser and no SigningKey of its
// namespace needs it (removeUnneededDirectory).
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
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
	if gone, err := r.removeUnneededDirectory(ctx, ns, users.Items, current); lostRace(err) {
		return ctrl.Result{RequeueAfter: raceRetryDelay}, nil
	} else if gone || err != nil {
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
	var checked map[types.UID]string
	if len(users) > 0 {
		if c, ok := r.checked.Load(users[0].Namespace); ok {
			checked = c.(map[types.UID]string)
		}
	}
	nowChecked := make(map[types.UID]string, len(users))
	defer func() {
		if len(users) > 0 {
			r.checked.Store(users[0].Namespace, nowChecked)
		}
	}()
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

		prev, _ := index.ByID(id)
		secret, unchanged, err := r.passwordSecret(ctx, u, prev, checked[u.UID])
		if err != nil {
			return nil, err
		}
		if secret != nil {
			nowChecked[u.UID] = passwordVersion(secret, u.Spec.PasswordSecretRef.Key)
		}
		plans = append(plans, planUser(u, secret, unchanged, prev, id, now, r.HashParams, r.MinPasswordLength))
	}
	return plans, nil
}

// passwordSecret reads u's password Secret; nil when it does not exist.
// The cache holds only its metadata (NewCache), which names its version.
// When prev, the user's directory entry, holds a current hash of that very
// version, and this process has read that version before (checkedVersion),
// the password is known to be unchanged and still acceptable: the Secret
// is returned without its data, and unchanged is true. Otherwise it is read
// whole from the API server, so a cluster's Secrets are never all held in
// memory, and a namespace's users cost one read each only when their
// passwords change or the operator has just started.
func (r *JackUserReconciler) passwordSecret(ctx context.Context, u *authv1alpha1.JackUser, prev *userdir.User, checkedVersion string) (_ *corev1.Secret, unchanged bool, _ error) {
	key := types.NamespacedName{Namespace: u.Namespace, Name: u.Spec.PasswordSecretRef.Name}
	m, err := secretMetadata(ctx, r.Client, key)
	if err != nil {
		return nil, false, fmt.Errorf("reading the password Secret of JackUser %s: %w", u.Name, err)
	}
	if m == nil {
		return nil, false, nil
	}
	known := &corev1.Secret{ObjectMeta: m.ObjectMeta}
	if v := passwordVersion(known, u.Spec.PasswordSecretRef.Key); v == checkedVersion && hashIsCurrent(prev, v, r.HashParams) {
		return known, true, nil
	}
	var s corev1.Secret
	err = r.apiReader().Get(ctx, key, &s)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the password Secret of JackUser %s: %w", u.Name, err)
	}
	return &s, false, nil
}

func (r *JackUserReconciler) apiReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
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
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
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
		// The directory, from the cache of the operator's own Secrets; the
		// password Secrets, as metadata (NewCache).
		Watches(&corev1.Secret{}, r.enqueueNamespace(isDirectory)).
		WatchesMetadata(&corev1.Secret{}, r.enqueueNamespace(r.isPassword)).
		// A namespace with a SigningKey gets a directory even before its first
		// user, so injected sidecars (which wait for one) become ready.
		Watches(&authv1alpha1.SigningKey{}, r.enqueueNamespace(func(context.Context, client.Object) bool { return true })).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(r)
}

func isDirectory(_ context.Context, o client.Object) bool {
	return o.GetName() == jack.UserDirectorySecretName
}

// isPassword is true for Secrets a JackUser names as its password.
func (r *JackUserReconciler) isPassword(ctx context.Context, o client.Object) bool {
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
