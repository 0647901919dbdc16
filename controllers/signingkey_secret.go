package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/ensure"
	"github.com/jack-io/jack-operator/controllers/rotation"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// ringSecrets are the objects holding a SigningKey's ring, as read at the
// start of a reconcile; nil when they do not exist.
//
// The backup Secret is the ring's source of truth and is always written
// first: if the main Secret (the one pods mount) is edited or deleted, or a
// reconcile stopped between the two writes, the main Secret is rewritten
// from the backup without losing a key.
type ringSecrets struct {
	main   *corev1.Secret
	backup *corev1.Secret
	jwks   *corev1.ConfigMap
}

func (r *SigningKeyReconciler) loadRingSecrets(ctx context.Context, key *authv1alpha1.SigningKey) (ringSecrets, error) {
	var rs ringSecrets
	get := func(name string, obj client.Object) (bool, error) {
		// One of these names without the operator's label is not in the
		// cache: read from the API server, it is refused when it is not
		// this SigningKey's (conflict), and relabelled by writeRing when it is.
		ok, err := readOwned(ctx, r.Client, r.apiReader(), client.ObjectKey{Namespace: key.Namespace, Name: name}, obj)
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", name, err)
		}
		return ok, nil
	}
	main, backup, jwks := &corev1.Secret{}, &corev1.Secret{}, &corev1.ConfigMap{}
	if ok, err := get(key.SecretName(), main); err != nil {
		return rs, err
	} else if ok {
		rs.main = main
	}
	if ok, err := get(key.BackupSecretName(), backup); err != nil {
		return rs, err
	} else if ok {
		rs.backup = backup
	}
	if ok, err := get(key.JWKSConfigMapName(), jwks); err != nil {
		return rs, err
	} else if ok {
		rs.jwks = jwks
	}
	return rs, nil
}

// conflict explains why the operator must not touch an object that has the
// name it needs but belongs to someone else; "" when there is none.
func (rs ringSecrets) conflict(key *authv1alpha1.SigningKey) string {
	var objs []client.Object
	if rs.main != nil {
		objs = append(objs, rs.main)
	}
	if rs.backup != nil {
		objs = append(objs, rs.backup)
	}
	if rs.jwks != nil {
		objs = append(objs, rs.jwks)
	}
	for _, o := range objs {
		if !metav1.IsControlledBy(o, key) {
			kind := "Secret"
			if _, ok := o.(*corev1.ConfigMap); ok {
				kind = "ConfigMap"
			}
			return fmt.Sprintf("%s %s already exists and does not belong to this SigningKey; the operator will not overwrite it. Delete it, or set spec.secretName to another name on a new SigningKey", kind, o.GetName())
		}
	}
	return ""
}

// state recovers the operator's state from the backup, else from the main
// Secret. lost is true when a ring existed but neither copy can be read.
func (rs ringSecrets) state() (st rotation.State, lost bool) {
	for _, s := range []*corev1.Secret{rs.backup, rs.main} {
		if s == nil {
			continue
		}
		ring, err := keyring.Parse(s.Data[jack.SecretKeyKeyRing])
		if err != nil {
			lost = true
			continue
		}
		return rotation.State{
			Ring:                 ring,
			HandledRotateRequest: s.Annotations[jack.AnnotationHandledRotateRequest],
			LegacyImported:       s.Annotations[jack.AnnotationLegacyImported] == "true",
		}, false
	}
	return rotation.State{}, lost
}

// writeRing stores the new ring: the backup first (the commit point, after
// which the events are true), then the Secret pods mount, then the public
// JWKS. Each write is skipped when nothing changed and carries the
// resourceVersion it was read at, so a concurrent writer makes it fail and
// retry rather than overwrite.
func (r *SigningKeyReconciler) writeRing(ctx context.Context, s *signingKeyScope) error {
	key, res := s.key, s.result
	ringJSON, err := res.Ring.Marshal()
	if err != nil {
		return err
	}
	annotations := map[string]string{jack.AnnotationHandledRotateRequest: res.HandledRotateRequest}
	if res.LegacyImported {
		annotations[jack.AnnotationLegacyImported] = "true"
	}

	backupData := map[string][]byte{jack.SecretKeyKeyRing: ringJSON}
	if err := r.applySecret(ctx, key, s.secrets.backup, key.BackupSecretName(), jack.ComponentKeyRingBackup, annotations, backupData); err != nil {
		return err
	}
	r.recordRotationEvents(key, res.Events)

	jwtSecret, err := res.Ring.Active().JWTSecret()
	if err != nil {
		return err
	}
	mainData := map[string][]byte{jack.SecretKeyKeyRing: ringJSON, jack.SecretKeyJWTSecret: jwtSecret}
	if m := s.secrets.main; m != nil && s.secrets.backup != nil && !sameData(m.Data, expectedMainData(s.secrets.backup)) {
		r.Recorder.Eventf(key, nil, corev1.EventTypeWarning, authv1alpha1.ReasonSecretRepaired, "Reconcile",
			"Secret %s did not hold the key ring the operator wrote; restored it from the backup", key.SecretName())
	} else if m == nil && s.secrets.backup != nil {
		r.Recorder.Eventf(key, nil, corev1.EventTypeWarning, authv1alpha1.ReasonSecretRepaired, "Reconcile",
			"Secret %s was missing; recreated it from the backup with every key", key.SecretName())
	}
	if err := r.applySecret(ctx, key, s.secrets.main, key.SecretName(), jack.ComponentKeyRing, annotations, mainData); err != nil {
		return err
	}

	jwks, err := res.Ring.PublicJWKS()
	if err != nil {
		return err
	}
	return r.applyJWKS(ctx, key, s.secrets.jwks, jwks)
}

// expectedMainData is what the main Secret holds when it matches a backup.
func expectedMainData(backup *corev1.Secret) map[string][]byte {
	ringJSON := backup.Data[jack.SecretKeyKeyRing]
	ring, err := keyring.Parse(ringJSON)
	if err != nil || ring.Active() == nil {
		return nil
	}
	jwtSecret, err := ring.Active().JWTSecret()
	if err != nil {
		return nil
	}
	return map[string][]byte{jack.SecretKeyKeyRing: ringJSON, jack.SecretKeyJWTSecret: jwtSecret}
}

func sameData(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, bytes.Equal)
}

// applySecret writes one of the ring's Secrets. An existing one was read at
// the start of the reconcile and is known to be this SigningKey's (see
// conflict); it keeps its other labels and annotations.
func (r *SigningKeyReconciler) applySecret(ctx context.Context, key *authv1alpha1.SigningKey, existing *corev1.Secret, name, component string, annotations map[string]string, data map[string][]byte) error {
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: key.Namespace, Labels: ownedLabels(key, component), Annotations: annotations},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(key, want, r.Scheme()); err != nil {
		return err
	}
	_, _, err := ensure.Object(ctx, r, existing, want, func(s *corev1.Secret) {
		// subset reads a missing annotation as "", so a Secret that lacks one
		// wanted empty already holds what is wanted and stays unwritten.
		if sameData(s.Data, data) && subset(want.Labels, s.Labels) && subset(annotations, s.Annotations) {
			return
		}
		s.Data = data
		s.Labels = merged(s.Labels, want.Labels)
		s.Annotations = merged(s.Annotations, annotations)
	}, ensure.Named("Secret "+name))
	return err
}

// applyJWKS writes the public JWKS ConfigMap; an existing one is known to be
// this SigningKey's, and keeps its other labels.
func (r *SigningKeyReconciler) applyJWKS(ctx context.Context, key *authv1alpha1.SigningKey, existing *corev1.ConfigMap, jwks []byte) error {
	name := key.JWKSConfigMapName()
	want := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: key.Namespace, Labels: ownedLabels(key, jack.ComponentJWKS)},
		Data:       map[string]string{jack.ConfigMapKeyJWKS: string(jwks)},
	}
	if err := controllerutil.SetControllerReference(key, want, r.Scheme()); err != nil {
		return err
	}
	_, _, err := ensure.Object(ctx, r, existing, want, func(cm *corev1.ConfigMap) {
		cm.Data = want.Data
		cm.Labels = merged(cm.Labels, want.Labels)
	}, ensure.Named("ConfigMap "+name))
	return err
}

func ownedLabels(key *authv1alpha1.SigningKey, component string) map[string]string {
	return map[string]string{
		jack.LabelManagedBy:  jack.ManagedByValue,
		jack.LabelSigningKey: labelValue(key.Name),
		jack.LabelComponent:  component,
	}
}

// labelValue fits a name into a label value (at most 63 characters): long
// names keep a prefix and gain a hash of the whole, so values stay unique.
func labelValue(name string) string {
	if len(name) <= validation.LabelValueMaxLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:50], "-.") + "-" + hex.EncodeToString(sum[:6])
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func merged(base, over map[string]string) map[string]string {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, over)
	return out
}
