package keys

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// ErrNotConfirmed: the user did not answer "yes", so nothing was revoked.
var ErrNotConfirmed = errors.New("not revoked: the answer was not \"yes\"")

// Revoke lists keyID in spec.revokedKeyIDs of SigningKey name, after
// printing who is logged out by it and, unless yes, reading "yes" from in.
// A key id the SigningKey does not hold is refused with the ids it holds;
// the API server checks the list itself (a dry run before asking), so its
// limits are refused in its own words.
func Revoke(ctx context.Context, c client.Client, namespace, name, keyID string, yes bool, in io.Reader, out io.Writer) error {
	k, err := get(ctx, c, namespace, name)
	if err != nil {
		return err
	}
	if slices.Contains(k.Spec.RevokedKeyIDs, keyID) {
		_, err := fmt.Fprintf(out, "key %s of SigningKey %s is already revoked (spec.revokedKeyIDs lists it)\n", keyID, name)
		return err
	}
	ks := findKey(k, keyID)
	if ks == nil {
		return fmt.Errorf("SigningKey %s has no key %q; its keys are %s", name, keyID, knownKeys(k))
	}
	var users authv1alpha1.JackUserList
	userCount := -1
	if err := c.List(ctx, &users, client.InNamespace(namespace)); err == nil {
		userCount = len(users.Items)
	}
	// The server's own checks, before anyone is asked.
	if err := patchRevoked(ctx, c, k, keyID, client.DryRunAll); err != nil {
		return err
	}
	fmt.Fprint(out, RevokeWarning(k, *ks, userCount, time.Now()))
	if !yes {
		fmt.Fprintf(out, "Type \"yes\" to revoke key %s: ", keyID)
		answer, _ := bufio.NewReader(in).ReadString('\n')
		if strings.TrimSpace(answer) != "yes" {
			fmt.Fprintln(out)
			return ErrNotConfirmed
		}
	}
	if err := patchRevoked(ctx, c, k, keyID); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "signingkey/%s: key %s revoked; the operator drops it from the ring, and every token it signed is refused\n", name, keyID)
	return err
}

// patchRevoked adds keyID to the list, retrying on a concurrent change to
// the SigningKey (the patch carries the resourceVersion it read, so it
// never drops another's revocation).
func patchRevoked(ctx context.Context, c client.Client, k *authv1alpha1.SigningKey, keyID string, opts ...client.PatchOption) error {
	for attempt := 0; ; attempt++ {
		cur := k.DeepCopy()
		patch := client.MergeFromWithOptions(k.DeepCopy(), client.MergeFromWithOptimisticLock{})
		cur.Spec.RevokedKeyIDs = append(cur.Spec.RevokedKeyIDs, keyID)
		err := c.Patch(ctx, cur, patch, opts...)
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt >= 4 {
			return fmt.Errorf("revoking key %s of SigningKey %s: %w", keyID, k.Name, err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(k), k); err != nil {
			return fmt.Errorf("reading SigningKey %s: %w", k.Name, err)
		}
	}
}

func findKey(k *authv1alpha1.SigningKey, id string) *authv1alpha1.KeyStatus {
	for i := range k.Status.Keys {
		if k.Status.Keys[i].ID == id {
			return &k.Status.Keys[i]
		}
	}
	return nil
}

func knownKeys(k *authv1alpha1.SigningKey) string {
	if len(k.Status.Keys) == 0 {
		return "none yet (the operator has not made its ring)"
	}
	var ids []string
	for _, ks := range k.Status.Keys {
		ids = append(ids, fmt.Sprintf("%s (%s)", ks.ID, ks.State))
	}
	return strings.Join(ids, ", ")
}

// RevokeWarning says who revoking ks logs out: whoever holds a token it
// signed, that is every login and refresh from when it became active until
// the next key did (a refresh after that was signed by the next key). It
// reads only its arguments. users is how many JackUsers the namespace has,
// or -1 when unknown.
func RevokeWarning(k *authv1alpha1.SigningKey, ks authv1alpha1.KeyStatus, users int, now time.Time) string {
	var b strings.Builder
	who := "its users"
	if users >= 0 {
		who = fmt.Sprintf("any of the %d JackUsers of namespace %s", users, k.Namespace)
	}
	switch ks.State {
	case jack.KeyPublished:
		fmt.Fprintf(&b, "WARNING: key %s of SigningKey %s is published and has not signed a token yet, so nobody is logged out; the rotation that published it ends without it.\n", ks.ID, k.Name)
		return b.String()
	case jack.KeyActive:
		fmt.Fprintf(&b, "WARNING: key %s is the active key of SigningKey %s: it signed every token issued since %s (%s). Everyone logged in through it is logged out — %s who logged in or refreshed since then — and must log in again.\n",
			ks.ID, k.Name, timeString(ks.ActivatedAt), ago(ks.ActivatedAt, now), who)
		if p := newestPublished(k); p != nil && p.ID != ks.ID {
			fmt.Fprintf(&b, "Key %s, published %s, signs in its place at once.\n", p.ID, ago(p.PublishedAt, now))
		} else {
			fmt.Fprintf(&b, "No key is published to take over: the operator makes a fresh key that signs at once, without prepublish, and replicas whose kubelet has not yet refreshed the key ring Secret (typically up to a minute) refuse its tokens until it arrives. "+
				"If the key is not compromised, run kubectl jack key rotate %s --wait first and revoke it after: the same people are logged out, and no replica refuses the new tokens.\n", k.Name)
		}
	default: // Retired
		fmt.Fprintf(&b, "WARNING: key %s of SigningKey %s signed the tokens issued from %s to %s; those not yet refreshed stay valid until %s. Whoever still holds one is logged out — %s who logged in or refreshed in that window and not since — and must log in again.\n",
			ks.ID, k.Name, timeString(ks.ActivatedAt), timeString(ks.RetiredAt), timeString(ks.ExpiresAt), who)
	}
	b.WriteString("API keys are not affected: no signing key signs them.\n")
	return b.String()
}

func ago(t *metav1.Time, now time.Time) string {
	if t == nil {
		return "at an unknown time"
	}
	return duration.HumanDuration(now.Sub(t.Time)) + " ago"
}
