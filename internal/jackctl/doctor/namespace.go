package doctor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/rotation"
)

// signingKeys checks each SigningKey of the namespace is Ready and
// Propagated, and that its status describes its latest spec.
func (r *report) signingKeys(ctx context.Context, c client.Client, namespace string) error {
	var list authv1alpha1.SigningKeyList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return fmt.Errorf("listing the SigningKeys of namespace %s: %w", namespace, err)
	}
	if len(list.Items) == 0 {
		r.ok("SigningKeys: none in namespace %s", namespace)
		return nil
	}
	slices.SortFunc(list.Items, func(a, b authv1alpha1.SigningKey) int { return strings.Compare(a.Name, b.Name) })
	for i := range list.Items {
		k := &list.Items[i]
		name := fmt.Sprintf("SigningKey %s/%s", namespace, k.Name)
		if k.Status.ObservedGeneration < k.Generation {
			r.problem(fmt.Sprintf("%s: its status describes generation %d of %d: the operator has not acted on its latest change", name, k.Status.ObservedGeneration, k.Generation),
				"check the operator runs and leads (the checks above) and its logs; kubectl describe signingkey "+k.Name+" shows its events")
			continue
		}
		ready := meta.FindStatusCondition(k.Status.Conditions, authv1alpha1.ConditionReady)
		prop := meta.FindStatusCondition(k.Status.Conditions, authv1alpha1.ConditionPropagated)
		bad := false
		if ready == nil || ready.Status != metav1.ConditionTrue {
			bad = true
			r.problem(fmt.Sprintf("%s: not Ready%s", name, because(ready)), "do what the message says; kubectl describe signingkey "+k.Name+" shows its events")
		}
		if prop == nil || prop.Status != metav1.ConditionTrue {
			bad = true
			fix := "a rotation under way finishes by itself: kubectl jack key status " + k.Name + " follows it"
			if prop != nil && (prop.Reason == authv1alpha1.ReasonSidecarsLagging || prop.Reason == authv1alpha1.ReasonSidecarsUnreachable) {
				fix = "look at the sidecars it names: their kubelet must bring the key ring Secret, and the operator must reach their ops port (TCP 9090; NetworkPolicies must allow it)"
			}
			r.problem(fmt.Sprintf("%s: not Propagated%s", name, because(prop)), fix)
		}
		if !bad {
			r.ok("%s: Ready, Propagated (%s sidecars), active key %s", name, orDash(k.Status.Propagation), k.Status.ActiveKeyID)
		}
	}
	return nil
}

// UserPropagationGrace is how long a JackUser's Propagated condition may
// stay False before doctor calls it a problem: the kubelet brings a changed
// user directory to a pod within a minute or two, and the operator asks
// every second meanwhile.
const UserPropagationGrace = 5 * time.Minute

// users checks the JackUsers of the namespace: a user whose login every
// ready sidecar has not confirmed for UserPropagationGrace is a problem of
// the installation (a sidecar the directory does not reach, an ops port the
// operator cannot); a directory that refuses users is one too. A user who
// cannot log in for what a person must change in that user alone (a weak or
// missing password, an email or id another user has) is a warning.
func (r *report) users(ctx context.Context, c client.Client, namespace string) error {
	var list authv1alpha1.JackUserList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return fmt.Errorf("listing the JackUsers of namespace %s: %w", namespace, err)
	}
	if len(list.Items) == 0 {
		r.ok("JackUsers: none in namespace %s", namespace)
		return nil
	}
	slices.SortFunc(list.Items, func(a, b authv1alpha1.JackUser) int { return strings.Compare(a.Name, b.Name) })
	before := r.problems
	var propagated, disabled, cannot int
	for i := range list.Items {
		u := &list.Items[i]
		name := fmt.Sprintf("JackUser %s/%s", namespace, u.Name)
		ready := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady)
		prop := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionPropagated)
		switch {
		case ready == nil || ready.Status == metav1.ConditionTrue:
		case ready.Reason == authv1alpha1.ReasonUserDisabled:
			disabled++
		case ready.Reason == authv1alpha1.ReasonDirectoryFull || ready.Reason == authv1alpha1.ReasonDirectoryConflict:
			cannot++
			r.problem(fmt.Sprintf("%s: cannot log in%s", name, because(ready)),
				"do what the message says: the user directory is shared by every user of the namespace; kubectl describe jackuser "+u.Name+" shows its events")
			continue
		default:
			cannot++
			fix := "do what the message says; kubectl describe jackuser " + u.Name + " shows its events"
			if ready.Reason == authv1alpha1.ReasonPasswordTooWeak || ready.Reason == authv1alpha1.ReasonPasswordMissing {
				fix = "set a password: kubectl jack user passwd " + u.Name + " -n " + namespace + " --generate --wait"
			}
			r.warn(fmt.Sprintf("%s: cannot log in%s", name, because(ready)), fix)
			continue
		}
		if prop == nil || prop.Status == metav1.ConditionTrue {
			if prop != nil {
				propagated++
			}
			continue
		}
		if age := r.now.Sub(prop.LastTransitionTime.Time); age >= UserPropagationGrace {
			r.problem(fmt.Sprintf("%s: not Propagated for %s%s", name, age.Round(time.Second), because(prop)),
				"look at the sidecars it names: their kubelet must bring the user directory Secret, and the operator must reach their ops port (TCP 9090; NetworkPolicies must allow it)")
		}
	}
	if r.problems == before {
		r.ok("JackUsers: %d in namespace %s: %d confirmed by every ready sidecar, %d disabled, %d cannot log in",
			len(list.Items), namespace, propagated, disabled, cannot)
	}
	return nil
}

func because(c *metav1.Condition) string {
	if c == nil {
		return " (no condition yet)"
	}
	return fmt.Sprintf(" (%s %s): %s", c.Status, c.Reason, c.Message)
}

// sidecars checks the injected pods of the namespace carry the operator's
// version of the sidecar.
func (r *report) sidecars(ctx context.Context, c client.Client, namespace, version string) error {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(namespace)); err != nil {
		return fmt.Errorf("listing the pods of namespace %s: %w", namespace, err)
	}
	byVersion := map[string][]string{}
	for _, p := range pods.Items {
		if v := p.Annotations[jack.AnnotationInjectedVersion]; v != "" && p.DeletionTimestamp == nil {
			byVersion[v] = append(byVersion[v], p.Name)
		}
	}
	if len(byVersion) == 0 {
		r.ok("sidecars: no injected pod in namespace %s", namespace)
		return nil
	}
	for _, v := range slices.Sorted(maps.Keys(byVersion)) {
		names := byVersion[v]
		slices.Sort(names)
		if version != "" && v != version {
			r.problem(fmt.Sprintf("sidecars: %d pod(s) in %s run the sidecar of operator version %s, not %s: %s", len(names), namespace, v, version, rotation.Names(names, 5)),
				"restart their workloads so the webhook injects the current sidecar: kubectl -n "+namespace+" rollout restart deployment/NAME")
			continue
		}
		r.ok("sidecars: %d pod(s) in %s run the sidecar of operator version %s", len(names), namespace, v)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
