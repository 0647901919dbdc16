package webhookcerts

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

func TestTwoReplicasServeTheSameCertificateAndOnlyTheLeaderWrites(t *testing.T) {
	ns := newNamespace(t)
	key := types.NamespacedName{Namespace: ns, Name: "webhook-certs"}
	// The API server calls a; b listens elsewhere, as another pod would.
	a := startReplica(t, "a", replicaOptions{secret: key, settings: testSettings(), leaseNamespace: ns})
	b := startReplica(t, "b", replicaOptions{secret: key, settings: testSettings(), leaseNamespace: ns, port: freePort(t)})
	replicas := []*replica{a, b}

	var leader, follower *replica
	poll.Until(t, 30*time.Second, "a replica is elected", func() error {
		switch {
		case a.leads() && b.leads():
			t.Fatal("both replicas lead")
		case a.leads():
			leader, follower = a, b
		case b.leads():
			leader, follower = b, a
		default:
			return errors.New("neither leads yet")
		}
		return nil
	})
	t.Logf("replica %s leads", leader.name)
	bothServeTheSecret := func(what string) {
		t.Helper()
		for _, r := range replicas {
			poll.Until(t, 10*time.Second, "replica "+r.name+" serves "+what, func() error {
				if err := r.serving.Checker(nil); err != nil {
					return err
				}
				return servesTheSecret(r.port, key)
			})
		}
	}
	poll.Until(t, 30*time.Second, "the Secret holds certificates", func() error { _, _, err := storedBundle(key); return err })
	bothServeTheSecret("the Secret's certificate")
	waitUntilAdmitting(t, ns)

	// A lost Secret: the leader makes a new one, and both serve it.
	_, lost := mustStoredBundle(t, key)
	if err := k8s.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "the leader makes a new Secret", func() error {
		_, b, err := storedBundle(key)
		if err == nil && b.CA().Equal(lost.CA()) {
			err = errors.New("it holds the lost CA")
		}
		return err
	})
	bothServeTheSecret("the new certificate")
	if leader.writes.Load() == 0 || follower.writes.Load() != 0 {
		t.Fatalf("the leader wrote %d times and the follower %d, want only the leader", leader.writes.Load(), follower.writes.Load())
	}

	// The leader goes away; the other replica takes over the writing.
	leader.stop()
	poll.Until(t, 30*time.Second, "replica "+follower.name+" is elected", func() error {
		if !follower.leads() {
			return errors.New("not yet")
		}
		return nil
	})
	_, current := mustStoredBundle(t, key)
	setCABundles(t, envtestCABundle)
	poll.Until(t, 10*time.Second, "the new leader repairs the caBundles", func() error { return caBundlesAre(current.CABundle()) })
	if follower.writes.Load() == 0 {
		t.Error("the new leader did not write")
	}
	if err := servesTheSecret(follower.port, key); err != nil {
		t.Error(err)
	}
}
