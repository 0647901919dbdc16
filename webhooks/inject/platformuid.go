package inject

import (
	corev1 "k8s.io/api/core/v1"
)

// withoutFixedUID removes the sidecar's fixed UID (Config.OmitRunAsUser):
// the platform assigns one, as OpenShift's restricted-v2 SCC does from the
// namespace's range, and refuses a pod that asks for another. With an
// fsGroup the sidecar's GID was its UID (sidecarGroup), so it goes too and
// the files stay readable through fsGroup; without one the sidecar keeps GID
// 0, through which it reads the Secret files the kubelet writes as group
// root (OpenShift runs containers with GID 0 as well).
func withoutFixedUID(pod *corev1.Pod, sc *corev1.SecurityContext) {
	sc.RunAsUser = nil
	if psc := pod.Spec.SecurityContext; psc != nil && psc.FSGroup != nil {
		sc.RunAsGroup = nil
	}
}

// withPullSecrets adds the sidecar's image pull Secrets (Config.
// ImagePullSecrets) to a pod's, keeping the pod's own first and in order and
// adding none twice, so that a second admission pass changes nothing.
func withPullSecrets(have []corev1.LocalObjectReference, add []string) []corev1.LocalObjectReference {
	for _, name := range add {
		dup := false
		for _, r := range have {
			if r.Name == name {
				dup = true
				break
			}
		}
		if !dup {
			have = append(have, corev1.LocalObjectReference{Name: name})
		}
	}
	return have
}
