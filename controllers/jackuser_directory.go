package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/ensure"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// directoryState is a namespace's directory Secret as found.
type directoryState struct {
	secret *corev1.Secret // nil when it does not exist yet
	dir    *userdir.Directory
	// conflict explains why a Secret of the directory's name is not ours.
	conflict string
}

func (r *JackUserReconciler) currentDirectory(ctx context.Context, ns string) (directoryState, error) {
	st := directoryState{dir: &userdir.Directory{}}
	var s corev1.Secret
	err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: jack.UserDirectorySecretName}, &s)
	if apierrors.IsNotFound(err) {
		// The cache holds only Secrets labelled as the operator's
		// (NewCache): one of this name without the labels is not, and is
		// found only on the API server.
		err = r.apiReader().Get(ctx, client.ObjectKey{Namespace: ns, Name: jack.UserDirectorySecretName}, &s)
	}
	switch {
	case apierrors.IsNotFound(err):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("reading the user directory of %s: %w", ns, err)
	}
	st.secret = &s
	if s.Labels[jack.LabelManagedBy] != jack.ManagedByValue || s.Labels[jack.LabelComponent] != jack.ComponentUserDirectory {
		st.conflict = fmt.Sprintf("Secret %s already exists and was not made by jack-operator; the operator will not overwrite it. Delete or rename it", s.Name)
		return st, nil
	}
	dir, err := userdir.Decode(s.Data[jack.SecretKeyUserDirectory])
	if err != nil {
		// Rebuilt from the JackUsers: hashes are recomputed, and when
		// sessions last ended is recovered from each user's status.
		logf.FromContext(ctx).Error(err, "the user directory is unreadable; rebuilding it", "namespace", ns)
		return st, nil
	}
	st.dir = dir
	return st, nil
}

// fitDirectory encodes the users the directory includes. If they do not fit
// in a Secret, the newest are left out (and told so) until the rest fit.
func fitDirectory(plans []userPlan) ([]byte, error) {
	included := make([]int, 0, len(plans))
	for i := range plans {
		if !plans[i].excluded {
			included = append(included, i)
		}
	}
	encode := func(n int) ([]byte, error) {
		d := &userdir.Directory{Users: make([]userdir.User, 0, n)}
		for _, i := range included[:n] {
			d.Users = append(d.Users, plans[i].entry)
		}
		return d.Encode()
	}
	data, err := encode(len(included))
	if !errors.Is(err, userdir.ErrTooLarge) {
		return data, err
	}
	fits := sort.Search(len(included)+1, func(n int) bool {
		_, err := encode(n)
		return errors.Is(err, userdir.ErrTooLarge)
	}) - 1
	for _, i := range included[fits:] {
		plans[i].excluded = true
		plans[i].reason = authv1alpha1.ReasonDirectoryFull
		plans[i].message = fmt.Sprintf("the namespace's user directory holds %d users and has no room for more (a Secret holds 1 MiB); move some users to another namespace", fits)
	}
	return encode(fits)
}

func countIncluded(plans []userPlan) int {
	n := 0
	for i := range plans {
		if !plans[i].excluded {
			n++
		}
	}
	return n
}

// writeDirectory stores the encoded directory, only when its bytes changed,
// with the resourceVersion it was read at. It reports whether it wrote. An
// existing Secret is known to be the operator's (see currentDirectory).
func (r *JackUserReconciler) writeDirectory(ctx context.Context, ns string, existing *corev1.Secret, encoded []byte) (bool, error) {
	data := map[string][]byte{jack.SecretKeyUserDirectory: encoded}
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: jack.UserDirectorySecretName, Namespace: ns,
			Labels: map[string]string{jack.LabelManagedBy: jack.ManagedByValue, jack.LabelComponent: jack.ComponentUserDirectory},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	_, res, err := ensure.Object(ctx, r, existing, want, func(s *corev1.Secret) { s.Data = data },
		ensure.Named("the user directory of "+ns))
	if err != nil || res == ensure.Unchanged {
		return false, err
	}
	directoryWrites.WithLabelValues(ns).Inc()
	return true, nil
}

// removeUnneededDirectory deletes the namespace's user directory when
// nothing there needs it any more — no JackUser (other than ones being
// deleted) and no SigningKey, whose injected sidecars mount the directory
// and wait for it — and reports whether the namespace is done with it: then
// nothing is left to write. So the password hashes of a namespace go with
// its last JackUser and SigningKey rather than outliving both.
//
// The operator deletes the directory rather than the garbage collector:
// the one Secret serves every JackUser of the namespace, and the collector
// removes an object with several owners only when all of them are gone,
// which would take one owner reference per user (about 200 bytes each:
// thousands of users' worth would outgrow the directory itself, and every
// user created or deleted would rewrite the Secret every sidecar mounts). A directory whose last user went while the
// operator was not running is removed when it starts: its cache lists the
// directory, which enqueues the namespace.
//
// The delete carries the UID and resourceVersion it decided on, so a
// directory rewritten meanwhile (a JackUser created since) is kept and the
// next reconcile decides again. A Secret of that name the operator did not
// make (st.conflict) is never deleted.
func (r *JackUserReconciler) removeUnneededDirectory(ctx context.Context, ns string, users []authv1alpha1.JackUser, st directoryState) (bool, error) {
	for i := range users {
		if users[i].DeletionTimestamp.IsZero() {
			return false, nil
		}
	}
	var keys authv1alpha1.SigningKeyList
	if err := r.List(ctx, &keys, client.InNamespace(ns)); err != nil {
		return false, fmt.Errorf("listing the SigningKeys of %s: %w", ns, err)
	}
	for i := range keys.Items {
		if keys.Items[i].DeletionTimestamp.IsZero() {
			return false, nil
		}
	}
	directoryUsers.DeleteLabelValues(ns)
	directoryBytes.DeleteLabelValues(ns)
	directoryWrites.DeleteLabelValues(ns)
	r.checked.Delete(ns)
	r.lastWrite.Delete(ns)
	if st.secret == nil || st.conflict != "" {
		return true, nil
	}
	uid, version := st.secret.UID, st.secret.ResourceVersion
	err := r.Delete(ctx, st.secret, client.Preconditions{UID: &uid, ResourceVersion: &version})
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case apierrors.IsConflict(err):
		// Rewritten since it was read: the caller decides again, soon, on
		// what is there now.
		return true, err
	case err != nil:
		return true, fmt.Errorf("deleting the user directory of %s, which no JackUser or SigningKey needs any more: %w", ns, err)
	}
	logf.FromContext(ctx).Info("user directory deleted: the namespace has no JackUser and no SigningKey", "namespace", ns)
	return true, nil
}
