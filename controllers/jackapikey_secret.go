package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/controllers/apikeys"
	"github.com/jack-io/jack-operator/internal/apikey"
)

// readSecret reads the key's Secret through reader (the cache, or the API
// server) and says what it holds: only the digest and last four characters
// of its value leave this function.
func (r *JackAPIKeyReconciler) readSecret(ctx context.Context, reader client.Reader, key *authv1alpha1.JackAPIKey) (*corev1.Secret, apikeys.Secret, error) {
	name := APIKeySecretName(key.Name)
	out := apikeys.Secret{Name: name}
	s := &corev1.Secret{}
	exists, err := readOwned(ctx, reader, r.apiReader(), client.ObjectKey{Namespace: key.Namespace, Name: name}, s)
	switch {
	case err != nil:
		return nil, out, fmt.Errorf("reading Secret %s of JackAPIKey %s: %w", name, key.Name, err)
	case !exists:
		out.State = apikeys.SecretMissing
		return nil, out, nil
	case !metav1.IsControlledBy(s, key):
		// Someone else's, or an earlier JackAPIKey's of the same name that
		// the garbage collector has yet to remove: its value must never
		// become this key's.
		out.State = apikeys.SecretConflict
		return s, out, nil
	}
	value := string(s.Data[jack.SecretKeyAPIKey])
	if apikey.Check(value) != nil {
		out.State = apikeys.SecretUnusable
		return s, out, nil
	}
	out.State, out.Digest, out.Last4 = apikeys.SecretHolds, apikey.Digest(value), apikey.Last4(value)
	return s, out, nil
}

// holdsCurrent reports whether the Secret, as read, holds the value the
// key's status lists as current: the steady state, decided from the cache.
func holdsCurrent(key *authv1alpha1.JackAPIKey, s apikeys.Secret) bool {
	if s.State != apikeys.SecretHolds {
		return false
	}
	for _, v := range key.Status.Values {
		if v.State == authv1alpha1.APIKeyCurrent {
			return v.Digest == s.Digest
		}
	}
	return false
}

// writeValue generates a new value and writes it to the key's Secret:
// creating it (labelled for the operator's cache, controlled by the key) or
// updating the one read, with that read's resourceVersion, so a concurrent
// change fails the write rather than being overwritten. It returns what the
// Secret now holds. The value itself goes nowhere else.
func (r *JackAPIKeyReconciler) writeValue(ctx context.Context, key *authv1alpha1.JackAPIKey, have *corev1.Secret, w apikeys.Write) (apikeys.Secret, error) {
	name := APIKeySecretName(key.Name)
	value, err := r.Generate()
	if err != nil {
		return apikeys.Secret{}, fmt.Errorf("generating a value for JackAPIKey %s: %w", key.Name, err)
	}
	if apikey.Check(value) != nil {
		return apikeys.Secret{}, errors.New("the generator made a value that is not a valid API key")
	}
	labels := map[string]string{jack.LabelManagedBy: jack.ManagedByValue, jack.LabelComponent: jack.ComponentAPIKey}
	switch w {
	case apikeys.WriteCreate:
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: key.Namespace, Labels: labels},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{jack.SecretKeyAPIKey: []byte(value)},
		}
		if err := controllerutil.SetControllerReference(key, s, r.Scheme()); err != nil {
			return apikeys.Secret{}, err
		}
		if err := r.Create(ctx, s); err != nil {
			return apikeys.Secret{}, fmt.Errorf("creating Secret %s of JackAPIKey %s: %w", name, key.Name, err)
		}
	case apikeys.WriteUpdate:
		s := have.DeepCopy()
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		for k, v := range labels {
			s.Labels[k] = v
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[jack.SecretKeyAPIKey] = []byte(value)
		delete(s.StringData, jack.SecretKeyAPIKey)
		if err := r.Update(ctx, s); err != nil {
			return apikeys.Secret{}, fmt.Errorf("updating Secret %s of JackAPIKey %s: %w", name, key.Name, err)
		}
	}
	return apikeys.Secret{Name: name, State: apikeys.SecretHolds, Digest: apikey.Digest(value), Last4: apikey.Last4(value)}, nil
}
