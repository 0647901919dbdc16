package controllers

import (
	"context"
	"fmt"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// Indexes of JackUsers by what must be unique in a namespace.
const (
	emailIndex = "jackuser.email.lower"
	idIndex    = "jackuser.id"
)

// IndexJackUsers registers the indexes the JackUser webhook and controller
// look users up by.
func IndexJackUsers(indexer client.FieldIndexer) error {
	if err := indexer.IndexField(context.Background(), &authv1alpha1.JackUser{}, emailIndex, func(o client.Object) []string {
		return []string{strings.ToLower(o.(*authv1alpha1.JackUser).Spec.Email)}
	}); err != nil {
		return err
	}
	return indexer.IndexField(context.Background(), &authv1alpha1.JackUser{}, idIndex, func(o client.Object) []string {
		if id := o.(*authv1alpha1.JackUser).EffectiveID(); id != "" {
			return []string{id}
		}
		return nil
	})
}

// +kubebuilder:webhook:path=/validate-auth-jack-io-v1alpha1-jackuser,mutating=false,failurePolicy=fail,sideEffects=None,groups=auth.jack.io,resources=jackusers,verbs=create;update,versions=v1alpha1,name=vjackuser.auth.jack.io,admissionReviewVersions=v1

// JackUserValidator refuses, at admission, a JackUser whose email (compared
// without case) or id another JackUser of the namespace already has. It reads
// the manager's cache, so two users created in the same instant can both get
// through; the JackUser controller then lets only the older one log in and
// reports DuplicateEmail on the other.
type JackUserValidator struct {
	Reader client.Reader
}

// SetupJackUserWebhookWithManager registers the validating webhook, reading
// JackUsers from reader (the manager's client, whose cache the JackUser
// controller's setup indexes with IndexJackUsers).
func SetupJackUserWebhookWithManager(mgr ctrl.Manager, reader client.Reader) error {
	return ctrl.NewWebhookManagedBy(mgr, &authv1alpha1.JackUser{}).
		WithValidator(&JackUserValidator{Reader: reader}).
		Complete()
}

// ValidateCreate refuses a new user whose email or id is taken.
func (v *JackUserValidator) ValidateCreate(ctx context.Context, u *authv1alpha1.JackUser) (admission.Warnings, error) {
	return nil, v.unique(ctx, u, true, true)
}

// ValidateUpdate refuses a change of email or id to one that is taken.
func (v *JackUserValidator) ValidateUpdate(ctx context.Context, old, u *authv1alpha1.JackUser) (admission.Warnings, error) {
	emailChanged := !strings.EqualFold(old.Spec.Email, u.Spec.Email)
	idChanged := old.Spec.ID != u.Spec.ID
	return nil, v.unique(ctx, u, emailChanged, idChanged)
}

// ValidateDelete allows every deletion.
func (v *JackUserValidator) ValidateDelete(context.Context, *authv1alpha1.JackUser) (admission.Warnings, error) {
	return nil, nil
}

func (v *JackUserValidator) unique(ctx context.Context, u *authv1alpha1.JackUser, checkEmail, checkID bool) error {
	if checkEmail {
		if other, err := v.holder(ctx, u, emailIndex, strings.ToLower(u.Spec.Email)); err != nil {
			return err
		} else if other != "" {
			return fmt.Errorf("spec.email: JackUser %q in namespace %s already has the email %s; emails must be unique in a namespace, compared without regard to case",
				other, u.Namespace, strings.ToLower(u.Spec.Email))
		}
	}
	if checkID && u.Spec.ID != "" {
		if other, err := v.holder(ctx, u, idIndex, u.Spec.ID); err != nil {
			return err
		} else if other != "" {
			return fmt.Errorf("spec.id: JackUser %q in namespace %s already has the id %s; ids must be unique in a namespace", other, u.Namespace, u.Spec.ID)
		}
	}
	return nil
}

// holder names another live JackUser with the given indexed value, or "".
func (v *JackUserValidator) holder(ctx context.Context, u *authv1alpha1.JackUser, index, value string) (string, error) {
	var users authv1alpha1.JackUserList
	if err := v.Reader.List(ctx, &users, client.InNamespace(u.Namespace), client.MatchingFields{index: value}); err != nil {
		return "", fmt.Errorf("checking that the JackUser is unique: %w", err)
	}
	for _, other := range users.Items {
		if other.Name != u.Name && other.DeletionTimestamp.IsZero() {
			return other.Name, nil
		}
	}
	return "", nil
}
