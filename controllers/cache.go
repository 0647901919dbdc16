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

// CacheByObject narrows what the manager's cache holds of the kinds the
// controllers watch but do not own. Pods: only those that opted in to
// injection, trimmed to what SidecarAccessReconciler reads (their service
// account, whether they were injected, whether they finished), so a cluster
// with many pods costs the operator little memory. Roles and RoleBindings:
// only the sidecars' own.
func CacheByObject() map[client.Object]cache.ByObject {
	ours := labels.SelectorFromSet(labels.Set{jack.LabelComponent: jack.ComponentSidecarAccess})
	return map[client.Object]cache.ByObject{
		&rbacv1.Role{}:        {Label: ours},
		&rbacv1.RoleBinding{}: {Label: ours},
		&corev1.Pod{}: {
			Label:     labels.SelectorFromSet(labels.Set{jack.LabelInject: "true"}),
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
		Status: corev1.PodStatus{Phase: p.Status.Phase},
	}
	if v, ok := p.Annotations[jack.AnnotationInjectedVersion]; ok {
		t.Annotations = map[string]string{jack.AnnotationInjectedVersion: v}
	}
	return t, nil
}
