package controllers

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
)

// CacheByObject is CacheByObjectFor the default injection object selector,
// auth.jack.io/inject=true.
func CacheByObject() map[client.Object]cache.ByObject {
	return CacheByObjectFor(labels.SelectorFromSet(labels.Set{jack.LabelInject: jack.InjectRequested}))
}

// CacheByObjectFor narrows what the manager's cache holds of the kinds the
// controllers watch but do not own. Pods: only those that pods selects (the
// injection webhook's object selector: the pods injected, which the webhook
// also labels auth.jack.io/inject=true, and those the missed-injection
// detector looks at), trimmed to what SidecarAccessReconciler reads (their service
// account, whether they were injected, whether they finished) and what the
// SigningKey reconciler needs to find their sidecar (its SigningKey, its ops
// port, the pod's address and readiness), so a cluster with many pods costs
// the operator little memory. Roles and RoleBindings: only the sidecars' own.
// Secrets and ConfigMaps are narrowed by NewCache, which a manager needs for
// the metadata of the Secrets the operator does not own.
func CacheByObjectFor(pods labels.Selector) map[client.Object]cache.ByObject {
	ours := labels.SelectorFromSet(labels.Set{jack.LabelComponent: jack.ComponentSidecarAccess})
	return map[client.Object]cache.ByObject{
		&rbacv1.Role{}:        {Label: ours},
		&rbacv1.RoleBinding{}: {Label: ours},
		&corev1.Pod{}: {
			Label:     pods,
			Transform: trimPod,
		},
	}
}

func trimPod(o any) (any, error) {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return o, nil // a tombstone
	}
	t := &corev1.Pod{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Labels: p.Labels, DeletionTimestamp: p.DeletionTimestamp,
		},
		Spec:   corev1.PodSpec{ServiceAccountName: p.Spec.ServiceAccountName},
		Status: corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP},
	}
	if c := sidecarContainer(p); c != nil {
		trimmed := corev1.Container{Name: c.Name}
		if k := sidecarSigningKey(c); k != "" {
			trimmed.Args = []string{"--signing-key=" + k}
		}
		for _, port := range c.Ports {
			if port.Name == jack.SidecarOpsPortName {
				trimmed.Ports = []corev1.ContainerPort{port}
			}
		}
		t.Spec.Containers = []corev1.Container{trimmed}
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.Name == jack.SidecarContainerName {
				t.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: cs.Name, Ready: cs.Ready}}
			}
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			t.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	if v, ok := p.Annotations[jack.AnnotationInjectedVersion]; ok {
		t.Annotations = map[string]string{jack.AnnotationInjectedVersion: v}
	}
	return t, nil
}
