package keys

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// Status prints one SigningKey (or, when name is "", every SigningKey of
// the namespace, by name): a line with its conditions and next rotation,
// then its keys as a table. Relative times are from now.
func Status(ctx context.Context, c client.Client, namespace, name string, now time.Time, out io.Writer) error {
	var keys []authv1alpha1.SigningKey
	if name != "" {
		k, err := get(ctx, c, namespace, name)
		if err != nil {
			return err
		}
		keys = append(keys, *k)
	} else {
		var list authv1alpha1.SigningKeyList
		if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return fmt.Errorf("listing the SigningKeys of namespace %s: %w", namespace, err)
		}
		keys = list.Items
		slices.SortFunc(keys, func(a, b authv1alpha1.SigningKey) int { return strings.Compare(a.Name, b.Name) })
	}
	if len(keys) == 0 {
		_, err := fmt.Fprintf(out, "No SigningKeys found in %s namespace.\n", namespace)
		return err
	}
	for i := range keys {
		if i > 0 {
			fmt.Fprintln(out)
		}
		if err := WriteStatus(out, &keys[i], now); err != nil {
			return err
		}
	}
	return nil
}

// get reads one SigningKey, with an error that names it.
func get(ctx context.Context, c client.Reader, namespace, name string) (*authv1alpha1.SigningKey, error) {
	k := &authv1alpha1.SigningKey{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, k); err != nil {
		return nil, fmt.Errorf("reading SigningKey %s in namespace %s: %w", name, namespace, err)
	}
	return k, nil
}

// WriteStatus prints one SigningKey as Status does. It reads only its
// arguments, so the same key and now always print the same.
func WriteStatus(out io.Writer, k *authv1alpha1.SigningKey, now time.Time) error {
	st := &k.Status
	ready := meta.FindStatusCondition(st.Conditions, authv1alpha1.ConditionReady)
	prop := meta.FindStatusCondition(st.Conditions, authv1alpha1.ConditionPropagated)
	head := fmt.Sprintf("SigningKey %s: Ready %s, Propagated %s", k.Name, conditionStatus(ready), conditionStatus(prop))
	if st.Propagation != "" {
		head += " (" + st.Propagation + " sidecars hold the newest key)"
	}
	if st.ActiveKeyID != "" {
		head += ", active key " + st.ActiveKeyID
	}
	if t := st.NextRotationTime; t != nil {
		if d := t.Sub(now); d >= 0 {
			head += ", next rotation in " + duration.HumanDuration(d)
		} else {
			head += ", next rotation due " + duration.HumanDuration(-d) + " ago"
		}
	}
	fmt.Fprintln(out, head)
	if k.Generation > st.ObservedGeneration && st.ObservedGeneration > 0 {
		fmt.Fprintf(out, "  the status describes generation %d of %d: the operator has not acted on the latest change yet\n", st.ObservedGeneration, k.Generation)
	}
	for _, c := range []*metav1.Condition{ready, prop} {
		if c != nil && c.Status != metav1.ConditionTrue {
			fmt.Fprintf(out, "  %s %s (%s): %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	if len(st.Keys) == 0 {
		_, err := fmt.Fprintln(out, "  no key yet: the operator has not made the ring (is it running? kubectl jack doctor)")
		return err
	}
	tw := tabwriter.NewWriter(out, 6, 4, 3, ' ', 0) // kubectl's table layout
	fmt.Fprintln(tw, "KEY ID\tSTATE\tALGORITHM\tAGE\tACTIVATED\tEXPIRES\tSIDECARS")
	for _, ks := range st.Keys {
		state := string(ks.State)
		if ks.Legacy {
			state += " (legacy)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ks.ID, state, ks.Algorithm,
			age(ks.PublishedAt, now), relative(ks.ActivatedAt, now), expires(ks, now), sidecars(ks.Sidecars, st.Sidecars))
	}
	return tw.Flush()
}

func conditionStatus(c *metav1.Condition) string {
	if c == nil {
		return string(metav1.ConditionUnknown)
	}
	return string(c.Status)
}

// age is how long ago t was, as kubectl's AGE column says it.
func age(t *metav1.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// relative says t from now: "3d ago", or "in 4m".
func relative(t *metav1.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	if d := t.Sub(now); d > 0 {
		return "in " + duration.HumanDuration(d)
	}
	return duration.HumanDuration(now.Sub(t.Time)) + " ago"
}

// expires is when a key leaves the ring: only retired keys have a date.
func expires(ks authv1alpha1.KeyStatus, now time.Time) string {
	switch ks.State {
	case jack.KeyRevoked:
		return "revoked"
	case jack.KeyRetired:
		return relative(ks.ExpiresAt, now)
	}
	return "-"
}

func sidecars(held, total *int32) string {
	if held == nil || total == nil {
		return "-"
	}
	return fmt.Sprintf("%d/%d", *held, *total)
}
