package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers"
	"github.com/jack-io/jack-operator/internal/jackctl"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// The suite runs a real API server and the operator's SigningKey
// reconciler in-process, watching the namespaces in watched only; a
// SigningKey elsewhere is one no operator acts on. What a sidecar holds is
// read through sidecars, which stands in for the sidecars' ops ports (the
// pods are real objects; no kubelet runs them).

var (
	k8s        client.Client
	fakeReader = &fakeSidecars{states: map[string]func() *jack.SidecarState{}}
	watched    = []string{"keys-status", "keys-rotate", "keys-lag", "keys-revoke"}
)

// unwatched is a namespace the operator does not act in.
const unwatched = "keys-idle"

func TestMain(m *testing.M) {
	pollInterval = 100 * time.Millisecond
	os.Exit(testenv.Main(m, jackctl.Scheme(), setupSuite))
}

func setupSuite(e *testenv.Env) (func(), error) {
	k8s = e.Client
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	teardown := func() { cancel(); wg.Wait() }
	namespaces := map[string]cache.Config{}
	for _, ns := range append([]string{unwatched}, watched...) {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return teardown, err
		}
		if ns != unwatched {
			namespaces[ns] = cache.Config{}
		}
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	mgr, err := ctrl.NewManager(e.Config, ctrl.Options{
		Scheme: jackctl.Scheme(), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Cache: cache.Options{DefaultNamespaces: namespaces},
	})
	if err != nil {
		return teardown, err
	}
	if err := (&controllers.SigningKeyReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("signingkey-controller"), Sidecars: fakeReader,
	}).SetupWithManager(mgr); err != nil {
		return teardown, err
	}
	wg.Go(func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return teardown, errors.New("the manager's cache did not sync")
	}
	return teardown, nil
}

// fakeSidecars answers for the sidecars' ops ports, by address.
type fakeSidecars struct {
	mu     sync.Mutex
	states map[string]func() *jack.SidecarState
}

func (f *fakeSidecars) set(addr string, state func() *jack.SidecarState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[addr] = state
}

func (f *fakeSidecars) Read(_ context.Context, addr string) (*jack.SidecarState, error) {
	f.mu.Lock()
	state := f.states[addr]
	f.mu.Unlock()
	if state == nil {
		return nil, errors.New("its ops port refused or dropped the connection")
	}
	return state(), nil
}

func (f *fakeSidecars) Confirm(context.Context, string, url.Values) (bool, error) { return true, nil }

// holding is a sidecar that has loaded the keys of the SigningKey's status
// that keep returns true for, and signs with its active key.
func holding(t *testing.T, ns, name string, keep func(authv1alpha1.KeyStatus) bool) func() *jack.SidecarState {
	return func() *jack.SidecarState {
		k := &authv1alpha1.SigningKey{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, k); err != nil {
			t.Errorf("the fake sidecar reading SigningKey %s: %v", name, err)
			return nil
		}
		st := &jack.SidecarState{Version: "test", SigningKey: name, SigningKeyID: k.Status.ActiveKeyID, Ring: &jack.RingState{Version: k.ResourceVersion}}
		for _, ks := range k.Status.Keys {
			if ks.State != jack.KeyRevoked && keep(ks) {
				st.Ring.Keys = append(st.Ring.Keys, jack.KeyStateReport{ID: ks.ID, State: ks.State})
			}
		}
		return st
	}
}

// newSigningKey creates a SigningKey with the shortest prepublish window
// the API allows and waits until it is Ready.
func newSigningKey(t *testing.T, ns, name string, wait bool) *authv1alpha1.SigningKey {
	t.Helper()
	k := &authv1alpha1.SigningKey{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	k.Spec.Rotation.Prepublish = metav1.Duration{Duration: 10 * time.Second}
	k.Spec.Rotation.PropagationTimeout = metav1.Duration{Duration: time.Minute}
	if err := k8s.Create(context.Background(), k); err != nil {
		t.Fatalf("creating SigningKey %s: %v", name, err)
	}
	if wait {
		poll.Until(t, 10*time.Second, "SigningKey "+name+" has an active key", func() error {
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(k), k); err != nil {
				return err
			}
			if k.Status.ActiveKeyID == "" {
				return errors.New("no active key yet")
			}
			return nil
		})
	}
	return k
}

// newSidecarPod creates a pod as the webhook would have injected it for
// SigningKey key, running and ready at addr's IP, as the kubelet would
// report it.
func newSidecarPod(t *testing.T, ns, name, key, ip string) string {
	t.Helper()
	ctx := context.Background()
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels:      map[string]string{jack.LabelInject: jack.InjectRequested},
			Annotations: map[string]string{jack.AnnotationInjectedVersion: "test"}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: jack.SidecarContainerName, Image: "jack-auth:test", RestartPolicy: &always,
				Args:  []string{"--signing-key=" + key},
				Ports: []corev1.ContainerPort{{Name: jack.SidecarOpsPortName, ContainerPort: 9090}}}},
			Containers: []corev1.Container{{Name: "jack", Image: "jack:test"}},
		},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatalf("reporting pod %s running: %v", name, err)
	}
	return ip + ":9090"
}
