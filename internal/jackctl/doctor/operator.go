package doctor

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/internal/jackctl/install"
	"github.com/jack-io/jack-operator/internal/operator"
)

// deployment checks the operator's replicas are ready.
func (r *report) deployment(_ context.Context, _ client.Client, op *install.Operator) error {
	d := op.Deployment
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	what := fmt.Sprintf("operator: deployment %s/%s, version %s, %d/%d replicas ready", d.Namespace, d.Name, op.Version, d.Status.ReadyReplicas, want)
	if want == 0 || d.Status.ReadyReplicas < want {
		r.problem(what, fmt.Sprintf("see why: kubectl -n %s describe deployment %s; kubectl -n %s logs deployment/%s", d.Namespace, d.Name, d.Namespace, d.Name))
		return nil
	}
	r.ok("%s", what)
	return nil
}

// leader checks the operator's Lease has a holder that renews it.
func (r *report) leader(ctx context.Context, c client.Client, op *install.Operator) error {
	ns := op.Namespace()
	replicas := int32(1)
	if op.Deployment.Spec.Replicas != nil {
		replicas = *op.Deployment.Spec.Replicas
	}
	if !op.Options.LeaderElect {
		if replicas > 1 {
			r.problem(fmt.Sprintf("leader: %d replicas run without --leader-elect, so each of them acts", replicas),
				"turn leader election on: helm upgrade --set leaderElection.enabled=true (or add --leader-elect=true to the operator's arguments)")
			return nil
		}
		r.ok("leader: leader election is off, and one replica runs")
		return nil
	}
	lease := &coordinationv1.Lease{}
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: operator.LeaderElectionID}, lease)
	if apierrors.IsNotFound(err) {
		r.problem(fmt.Sprintf("leader: no Lease %s in %s: no replica has been elected, so nothing reconciles", operator.LeaderElectionID, ns),
			fmt.Sprintf("check that the operator runs and may write Leases in %s: kubectl -n %s logs deployment/%s", ns, ns, op.Deployment.Name))
		return nil
	} else if err != nil {
		return fmt.Errorf("reading the Lease %s in %s: %w", operator.LeaderElectionID, ns, err)
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	leaseFor := 15 * time.Second
	if lease.Spec.LeaseDurationSeconds != nil {
		leaseFor = time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	}
	if holder == "" || lease.Spec.RenewTime == nil {
		r.problem(fmt.Sprintf("leader: Lease %s in %s has no holder: no replica leads, so nothing reconciles", operator.LeaderElectionID, ns),
			fmt.Sprintf("check the operator's pods: kubectl -n %s logs deployment/%s", ns, op.Deployment.Name))
		return nil
	}
	age := r.now.Sub(lease.Spec.RenewTime.Time)
	if age > leaseFor {
		r.problem(fmt.Sprintf("leader: %s last renewed Lease %s %s ago, past its %s: the leader is gone and no replica took over", holder, operator.LeaderElectionID, duration.HumanDuration(age), leaseFor),
			fmt.Sprintf("check the operator's pods: kubectl -n %s get pods; kubectl -n %s logs deployment/%s", ns, ns, op.Deployment.Name))
		return nil
	}
	r.ok("leader: %s, renewed %s ago", holder, duration.HumanDuration(max(age, 0)))
	return nil
}
