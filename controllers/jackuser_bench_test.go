package controllers

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/testsupport/hookclient"
)

// BenchmarkReconcile5000UsersFromCold reconciles a namespace of 5,000
// JackUsers that has no user directory yet, as after installing the operator
// over existing users: every password is hashed with the real argon2id
// parameters, on every core. It reports the directory writes and status
// writes that took. Run it alone, it takes minutes:
//
//	go test -run '^$' -bench Reconcile5000 -benchtime 1x ./controllers/
func BenchmarkReconcile5000UsersFromCold(b *testing.B) {
	const n = 5000
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ns := fmt.Sprintf("bench-%d-%d", time.Now().Unix(), i)
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			b.Fatal(err)
		}
		for j := range n {
			name := fmt.Sprintf("user-%04d", j)
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: map[string]string{"password": "benchmark password " + name}}
			if err := k8s.Create(ctx, s); err != nil {
				b.Fatal(err)
			}
			u := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: authv1alpha1.JackUserSpec{
				Email: name + "@example.com", Name: name, Role: jack.RoleStaff, PasswordSecretRef: authv1alpha1.PasswordSecretReference{Name: name}}}
			if err := k8s.Create(ctx, u); err != nil {
				b.Fatal(err)
			}
		}
		// Read through a cache, as the operator does.
		c, err := cache.New(env.Config, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
		if err != nil {
			b.Fatal(err)
		}
		cacheCtx, stop := context.WithCancel(ctx)
		go func() { _ = c.Start(cacheCtx) }()
		cached, err := client.New(env.Config, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: c}})
		if err != nil {
			b.Fatal(err)
		}
		var users authv1alpha1.JackUserList
		var secrets corev1.SecretList
		if err := cached.List(ctx, &users, client.InNamespace(ns)); err != nil { // starts and syncs the informers
			b.Fatal(err)
		}
		if err := cached.List(ctx, &secrets, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		var directoryWrites, statusWrites atomic.Int64
		counting := &hookclient.Client{Client: cached, BeforeWrite: func(o client.Object) error {
			if _, ok := o.(*authv1alpha1.JackUser); ok {
				statusWrites.Add(1)
			} else if o.GetName() == jack.UserDirectorySecretName {
				directoryWrites.Add(1)
			}
			return nil
		}}
		r := &JackUserReconciler{Client: counting, Recorder: &recordedEvents{}, Clock: clock.RealClock{},
			HashParams: password.DefaultParams, MinPasswordLength: password.DefaultMinLength}
		req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: jack.UserDirectorySecretName}}

		b.StartTimer()
		start := time.Now()
		if _, err := r.Reconcile(ctx, req); err != nil {
			b.Fatal(err)
		}
		cold := time.Since(start)
		b.StopTimer()

		// Once the cache holds the directory, another reconcile hashes nothing.
		for range 100 {
			var s corev1.Secret
			if cached.Get(ctx, client.ObjectKey{Namespace: ns, Name: jack.UserDirectorySecretName}, &s) == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // let the status writes reach the cache
		warmStart := time.Now()
		if _, err := r.Reconcile(ctx, req); err != nil {
			b.Fatal(err)
		}
		warm := time.Since(warmStart)
		stop()

		b.ReportMetric(float64(directoryWrites.Load()), "directory-writes")
		b.ReportMetric(float64(statusWrites.Load()), "status-writes")
		b.ReportMetric(cold.Seconds(), "cold-s")
		b.ReportMetric(warm.Seconds(), "warm-s")
	}
}
