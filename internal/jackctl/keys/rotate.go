package keys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/jackctl"
)

// pollInterval is how often Rotate reads the SigningKey while it waits: a
// rotation takes at least rotation.prepublish (10s or more).
var pollInterval = 500 * time.Millisecond

// Rotate asks the operator for a rotation of SigningKey name with a fresh
// value of auth.jack.io/rotate, and waits until the operator has acted on it
// (status.lastRotateRequest), which publishes the new key. With wait it
// then waits until that key signs and every ready sidecar holds it (the
// Propagated condition is True, what kubectl wait --for=condition=Propagated
// waits for), printing each step. timeout bounds the whole wait; 0 allows as
// long as the SigningKey's rotation can take: rotation.prepublish plus
// rotation.propagationTimeout, and a minute.
func Rotate(ctx context.Context, c client.Client, namespace, name string, wait bool, timeout time.Duration, out io.Writer) error {
	k, err := get(ctx, c, namespace, name)
	if err != nil {
		return err
	}
	if timeout <= 0 {
		timeout = RotationBudget(k)
	}
	value, err := RotateValue(time.Now())
	if err != nil {
		return err
	}
	patch := client.MergeFrom(k.DeepCopy())
	if k.Annotations == nil {
		k.Annotations = map[string]string{}
	}
	k.Annotations[jack.AnnotationRotate] = value
	if err := c.Patch(ctx, k, patch); err != nil {
		return fmt.Errorf("annotating SigningKey %s with %s: %w", name, jack.AnnotationRotate, err)
	}
	fmt.Fprintf(out, "signingkey/%s annotated %s=%s\n", name, jack.AnnotationRotate, value)

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w := &rotationWait{c: c, key: client.ObjectKeyFromObject(k), value: value, out: out}
	if err := w.until(ctx, w.published); err != nil {
		return w.timedOut(err, timeout)
	}
	if !wait {
		fmt.Fprintf(out, "not waiting for key %s to sign: kubectl jack key rotate %s --wait, or kubectl wait signingkey/%s --for=condition=Propagated\n", w.target, name, name)
		return nil
	}
	if err := w.until(ctx, w.propagated); err != nil {
		return w.timedOut(err, timeout)
	}
	fmt.Fprintf(out, "key %s signs, and every ready sidecar holds it (%s): the rotation is done\n", w.target, orNone(w.last.Status.Propagation))
	return nil
}

// RotationBudget is how long a rotation of k can take: its prepublish
// window, then its propagation timeout, and a minute for the operator.
func RotationBudget(k *authv1alpha1.SigningKey) time.Duration {
	prepublish, timeout := k.Spec.Rotation.Prepublish.Duration, k.Spec.Rotation.PropagationTimeout.Duration
	if prepublish == 0 {
		prepublish = 5 * time.Minute
	}
	if timeout == 0 {
		timeout = 15 * time.Minute
	}
	return prepublish + timeout + time.Minute
}

// RotateValue is a value of auth.jack.io/rotate that was never used: the
// time, for people reading it, and 48 random bits, so that two requests in
// the same second, from two people, still differ.
func RotateValue(now time.Time) (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b), nil
}

// rotationWait follows one rotation request through the SigningKey's status.
type rotationWait struct {
	c     client.Client
	key   client.ObjectKey
	value string
	out   io.Writer
	// target is the key the rotation makes active, once published.
	target string
	// last is the SigningKey as last read; said is the last progress line.
	last *authv1alpha1.SigningKey
	said string
	// waitingFor says what the wait still waits for, for a timeout.
	waitingFor string
}

var errLeftRing = errors.New("left the ring")

func (w *rotationWait) until(ctx context.Context, done func(*authv1alpha1.SigningKey) (bool, error)) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	read, stop := jackctl.ReadContext(ctx)
	defer stop()
	for {
		k := &authv1alpha1.SigningKey{}
		if err := w.c.Get(read, w.key, k); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading SigningKey %s: %w", w.key.Name, err)
		}
		w.last = k
		ok, err := done(k)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// published is done once the operator has acted on the request: the key
// it published (or the one already published, which satisfies it) is the
// target.
func (w *rotationWait) published(k *authv1alpha1.SigningKey) (bool, error) {
	w.waitingFor = fmt.Sprintf("the operator has not acted on %s=%s (status.lastRotateRequest is %s): is it running and elected? kubectl jack doctor checks",
		jack.AnnotationRotate, w.value, orNone(k.Status.LastRotateRequest))
	if k.Status.LastRotateRequest != w.value {
		return false, nil
	}
	if p := newestPublished(k); p != nil {
		w.target = p.ID
		w.say(fmt.Sprintf("key %s is published: it verifies now, and signs from %s at the earliest, once every ready sidecar holds it",
			p.ID, timeString(p.ActivatedAt)))
	} else {
		// Published and promoted between two reads.
		w.target = k.Status.ActiveKeyID
		w.say(fmt.Sprintf("key %s is published", w.target))
	}
	return true, nil
}

// propagated is done once the target signs and the Propagated condition,
// written with it, is True.
func (w *rotationWait) propagated(k *authv1alpha1.SigningKey) (bool, error) {
	if !inRing(k, w.target) {
		return false, fmt.Errorf("key %s %w of SigningKey %s before it signed (was it revoked?)", w.target, errLeftRing, k.Name)
	}
	cond := meta.FindStatusCondition(k.Status.Conditions, authv1alpha1.ConditionPropagated)
	active := k.Status.ActiveKeyID == w.target
	if active && cond != nil && cond.Status == metav1.ConditionTrue {
		return true, nil
	}
	what := fmt.Sprintf("key %s is published, not yet signing", w.target)
	if active {
		what = fmt.Sprintf("key %s signs", w.target)
	}
	line := what
	if cond != nil {
		line += fmt.Sprintf("; Propagated %s (%s): %s", cond.Status, cond.Reason, cond.Message)
	} else {
		line += "; no Propagated condition yet"
	}
	w.waitingFor = line
	w.say(line)
	return false, nil
}

func (w *rotationWait) say(line string) {
	if line != w.said {
		fmt.Fprintln(w.out, line)
		w.said = line
	}
}

func (w *rotationWait) timedOut(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("SigningKey %s: the rotation did not finish within %s: %s", w.key.Name, timeout, w.waitingFor)
	}
	return err
}

// newestPublished is the ring's published key, the latest if several.
func newestPublished(k *authv1alpha1.SigningKey) *authv1alpha1.KeyStatus {
	var p *authv1alpha1.KeyStatus
	for i := range k.Status.Keys {
		ks := &k.Status.Keys[i]
		if ks.State == jack.KeyPublished && (p == nil || after(ks.PublishedAt, p.PublishedAt)) {
			p = ks
		}
	}
	return p
}

func inRing(k *authv1alpha1.SigningKey, id string) bool {
	for _, ks := range k.Status.Keys {
		if ks.ID == id {
			return ks.State != jack.KeyRevoked
		}
	}
	return false
}

func after(a, b *metav1.Time) bool {
	return a != nil && (b == nil || a.After(b.Time))
}

func timeString(t *metav1.Time) string {
	if t == nil {
		return "(unknown)"
	}
	return t.UTC().Format(time.RFC3339)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
