package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/apikey"
)

func newAPIKeyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "apikey",
		Aliases: []string{"apikeys", "jak"},
		Short:   "Create, rotate, disable and enable API keys (JackAPIKeys)",
	}
	cmd.AddCommand(newAPIKeyCreateCmd(a), newAPIKeyRotateCmd(a),
		newAPIKeyDisabledCmd(a, true), newAPIKeyDisabledCmd(a, false))
	return cmd
}

func newAPIKeyCreateCmd(a *app) *cobra.Command {
	var (
		role, expires, owner, display string
		routes                        []string
		w                             waitFlags
		out                           outputFlag
	)
	cmd := &cobra.Command{
		Use:   "create NAME --role admin|manager|staff [--expires RFC3339|DURATION] [--routes ROUTE,...] [--owner WHO] [--display-name TEXT]",
		Short: "Create a JackAPIKey and print its key, once",
		Long: `Create a JackAPIKey, wait for the operator to generate its key into the Secret
NAME-apikey, and print the key, once: hand it to the service that will use it
now, or have that service mount the Secret.

--expires is a time (RFC 3339, like 2027-01-31T00:00:00Z) or a duration from
now (720h, 90d). --routes narrows the key to some of its role's routes, each
"/path" or "METHOD /path" (docs/apikeys.md).

With --wait=false the command returns once the JackAPIKey is created, and
prints no key: it will be in the Secret.`,
		Example: `  kubectl jack apikey create billing-export --role manager --expires 90d \
      --routes 'GET /api/v1/reports/**' --owner billing@example.com --display-name "billing export"`,
		Args: exactlyOneName("apikey create", "the JackAPIKey's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := errors.Join(out.validate(), w.validate(), required("--role", role, "admin, manager or staff")); err != nil {
				return err
			}
			spec := authv1alpha1.JackAPIKeySpec{Role: jack.Role(role), Routes: routes, Owner: owner, DisplayName: display}
			if expires != "" {
				t, err := parseExpires(expires, a.now())
				if err != nil {
					return err
				}
				spec.Expires = &metav1.Time{Time: t}
			}
			return a.apiKeyCreate(cmd.Context(), args[0], spec, &w, &out)
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "What the key may do in Jack: admin, manager or staff (required)")
	cmd.Flags().StringVar(&expires, "expires", "", "When the key stops working: an RFC 3339 time or a duration from now (720h, 90d)")
	cmd.Flags().StringSliceVar(&routes, "routes", nil, `Narrow the key to these routes of its role, each "/path" or "METHOD /path" (repeat, or separate with commas)`)
	cmd.Flags().StringVar(&owner, "owner", "", "Who answers for the key: a team, a person's email")
	cmd.Flags().StringVar(&display, "display-name", "", "What the key is for")
	_ = cmd.RegisterFlagCompletionFunc("role", roleCompletion)
	w.addFlags(cmd, true, "Wait for the operator to generate the key, and print it")
	out.addFlag(cmd)
	return cmd
}

// parseExpires reads --expires: an RFC 3339 time, or a duration from now
// in Go's syntax or whole days ("90d").
func parseExpires(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return time.Time{}, fmt.Errorf("--expires must be an RFC 3339 time (2027-01-31T00:00:00Z) or a duration (720h, 90d), not %q", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return time.Time{}, fmt.Errorf("--expires must be an RFC 3339 time (2027-01-31T00:00:00Z) or a duration (720h, 90d), not %q", s)
		}
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("--expires must be in the future: %q is not a positive duration", s)
	}
	// Whole seconds: what the API server stores.
	return now.Add(d).UTC().Truncate(time.Second), nil
}

func (a *app) apiKeyCreate(ctx context.Context, name string, spec authv1alpha1.JackAPIKeySpec, w *waitFlags, out *outputFlag) error {
	c, ns, err := a.connect()
	if err != nil {
		return err
	}
	key := &authv1alpha1.JackAPIKey{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
	if err := c.Create(ctx, key); err != nil {
		return fmt.Errorf("the JackAPIKey %s cannot be created: %w", name, err)
	}
	if !w.wait {
		return out.print(a.streams.Out, key, fmt.Sprintf("jackapikey/%s created; the operator writes its key into Secret %s, key %s",
			name, name+jack.APIKeySecretSuffix, jack.SecretKeyAPIKey))
	}
	value, current, err := a.waitForValue(ctx, c, key, w.timeout, func(k *authv1alpha1.JackAPIKey) bool { return true })
	if err != nil {
		return fmt.Errorf("jackapikey/%s was created, but %w", name, err)
	}
	sentence := fmt.Sprintf("jackapikey/%s created: role %s, id %s, key ending %s, in Secret %s (key %s)",
		name, key.Spec.Role, key.Status.ID, current.Last4, key.Status.SecretName, jack.SecretKeyAPIKey)
	if err := out.print(a.streams.Out, key, sentence); err != nil {
		return err
	}
	printGenerated(a.streams, out, "API key "+name, value)
	return nil
}

// waitForValue waits until the operator has done what ready asks of the key
// and its status names a current value, then reads that value from the
// key's Secret. It returns the value only when its digest is the one the
// status names, so what it prints is the key the sidecars accept.
func (a *app) waitForValue(ctx context.Context, c client.Client, key *authv1alpha1.JackAPIKey, timeout time.Duration, ready func(*authv1alpha1.JackAPIKey) bool) (string, authv1alpha1.APIKeyValue, error) {
	var current authv1alpha1.APIKeyValue
	err := waitFor(ctx, c, client.ObjectKeyFromObject(key), key, timeout, func(k *authv1alpha1.JackAPIKey) error {
		if !ready(k) {
			return errors.New("the operator has not acted on it yet: is it running? (kubectl jack doctor)")
		}
		cond := meta.FindStatusCondition(k.Status.Conditions, authv1alpha1.ConditionReady)
		if cond != nil && cond.Reason == authv1alpha1.ReasonSecretConflict {
			return &givingUp{fmt.Errorf("the operator will not write its key: %s", cond.Message)}
		}
		v, ok := currentValue(k)
		if !ok || k.Status.SecretName == "" {
			if cond != nil && cond.Message != "" {
				return fmt.Errorf("the operator has not written its key yet: %s", cond.Message)
			}
			return errors.New("the operator has not written its key yet: is it running? (kubectl jack doctor)")
		}
		current = v
		return nil
	})
	if err != nil {
		return "", current, err
	}
	secret := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: key.Status.SecretName}, secret); err != nil {
		return "", current, fmt.Errorf("its Secret %s cannot be read: %w", key.Status.SecretName, err)
	}
	value := string(secret.Data[jack.SecretKeyAPIKey])
	if apikey.Check(value) != nil || apikey.Digest(value) != current.Digest {
		// Never echo what is there: it may be a key.
		return "", current, fmt.Errorf("its Secret %s does not hold the value the status names (it changed meanwhile); read it with kubectl get secret %s", key.Status.SecretName, key.Status.SecretName)
	}
	return value, current, nil
}

// currentValue is the key's value in its Secret, as its status describes it.
func currentValue(k *authv1alpha1.JackAPIKey) (authv1alpha1.APIKeyValue, bool) {
	for _, v := range k.Status.Values {
		if v.State == authv1alpha1.APIKeyCurrent {
			return v, true
		}
	}
	return authv1alpha1.APIKeyValue{}, false
}

func newAPIKeyRotateCmd(a *app) *cobra.Command {
	var (
		print   bool
		timeout time.Duration
		out     outputFlag
	)
	cmd := &cobra.Command{
		Use:   "rotate NAME [--print]",
		Short: "Give a JackAPIKey a new value; the previous one works for its rotationOverlap",
		Long: `Ask the operator for a new value of the key (a fresh auth.jack.io/rotate
annotation) and wait until it has written it. The previous value keeps
working for the key's spec.rotationOverlap (24h unless set), so its
consumers can pick up the new one from the Secret.

With --print the new value is printed, once.`,
		Example: `  kubectl jack apikey rotate billing-export
  kubectl jack apikey rotate billing-export --print`,
		Args: exactlyOneName("apikey rotate", "the JackAPIKey's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout must be positive, like 30s or 2m, not %s", timeout)
			}
			return a.apiKeyRotate(cmd.Context(), args[0], print, timeout, &out)
		},
		ValidArgsFunction: a.completeNames(&authv1alpha1.JackAPIKeyList{}),
	}
	cmd.Flags().BoolVar(&print, "print", false, "Print the new value, once")
	cmd.Flags().DurationVar(&timeout, "timeout", defaultTimeout, "How long to wait for the operator before giving up (exit 1)")
	out.addFlag(cmd)
	return cmd
}

func (a *app) apiKeyRotate(ctx context.Context, name string, print bool, timeout time.Duration, out *outputFlag) error {
	c, ns, err := a.connect()
	if err != nil {
		return err
	}
	request := freshRequest(a.now())
	key := &authv1alpha1.JackAPIKey{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, jack.AnnotationRotate, request)
	if err := c.Patch(ctx, key, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return notFound(err, "JackAPIKey", name, ns)
	}
	rotated := func(k *authv1alpha1.JackAPIKey) bool { return k.Status.LastRotateRequest == request }
	var (
		value   string
		current authv1alpha1.APIKeyValue
	)
	if print {
		value, current, err = a.waitForValue(ctx, c, key, timeout, rotated)
	} else {
		err = waitFor(ctx, c, client.ObjectKeyFromObject(key), key, timeout, func(k *authv1alpha1.JackAPIKey) error {
			if !rotated(k) {
				return errors.New("the operator has not rotated it yet: is it running? (kubectl jack doctor)")
			}
			current, _ = currentValue(k)
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("rotating jackapikey/%s: %w", name, err)
	}
	sentence := fmt.Sprintf("jackapikey/%s rotated: the new value, ending %s, is in Secret %s", name, current.Last4, key.Status.SecretName)
	for _, v := range key.Status.Values {
		if v.State == authv1alpha1.APIKeyPrevious && v.ValidUntil != nil {
			sentence += fmt.Sprintf("; the previous one, ending %s, works until %s", v.Last4, v.ValidUntil.UTC().Format(time.RFC3339))
		}
	}
	if err := out.print(a.streams.Out, key, sentence); err != nil {
		return err
	}
	if print {
		printGenerated(a.streams, out, "New API key "+name, value)
	}
	return nil
}

// newAPIKeyDisabledCmd is apikey disable (disable true) or apikey enable.
func newAPIKeyDisabledCmd(a *app, disable bool) *cobra.Command {
	return newDisabledCmd(a, disable, disabledVerb{
		noun: "apikey", kind: "JackAPIKey", example: "billing-export",
		enable: [2]string{"Let a disabled JackAPIKey work again, with the same value",
			"Set spec.disabled to false: the key works again, with the value it had."},
		disable: [2]string{"Refuse a JackAPIKey at every sidecar, keeping its value",
			"Set spec.disabled to true: every sidecar refuses the key within seconds. Its value\nis kept; apikey enable undoes it."},
		object: func(name, ns string) client.Object {
			return &authv1alpha1.JackAPIKey{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		},
		list: &authv1alpha1.JackAPIKeyList{},
	})
}
