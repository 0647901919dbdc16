// Package rotation decides how a SigningKey's key ring moves through its
// life: which key signs, which keys are published ahead of time or retired,
// and when each changes. It is pure: given the ring, the settings and the
// time, it returns the next ring and what happened, so every rule is tested
// without a cluster and any interrupted reconcile is simply re-run.
package rotation

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
)

// Leeway is added to a retired key's life beyond the longest token it could
// have signed, covering clock skew between the operator and the verifiers.
const Leeway = 2 * time.Minute

// Settings are the SigningKey spec fields that rotation follows.
type Settings struct {
	Algorithm jack.Algorithm
	TokenTTL  time.Duration
	// SessionLifetime is the absolute end of a session after its login.
	SessionLifetime time.Duration
	Interval        time.Duration
	Prepublish      time.Duration
	// PropagationTimeout bounds how long, past Prepublish, a published key
	// waits for sidecars that lack it.
	PropagationTimeout time.Duration
	Issuer             string
	Audience           string
	RevokedKeyIDs      []string
	// RotateRequest is the value of the auth.jack.io/rotate annotation.
	RotateRequest string
	// LegacySecret is the pre-existing JWT_SECRET to import, when one is
	// configured and was read.
	LegacySecret []byte
}

// State is what the operator remembers between reconciles, besides the ring.
type State struct {
	// Ring is nil before the first key exists.
	Ring *keyring.Ring
	// HandledRotateRequest is the last rotate annotation value acted on.
	HandledRotateRequest string
	// LegacyImported is set once the legacy secret was imported, so a removed
	// legacy key is never imported again.
	LegacyImported bool
}

// Event is one thing that happened to the ring. Reason is one of the
// event reasons in api/jack (EventKeyPublished, …).
type Event struct {
	Reason  string
	KeyID   string
	Message string
	// Warning marks what an operator should look into.
	Warning bool
}

// PropagationPoll is how often, while a published key waits, the sidecars
// that lack it are read again.
const PropagationPoll = time.Second

// Sidecars is what the operator last read from the ready sidecars of the
// SigningKey: which keys each holds.
type Sidecars struct {
	// Pods are the sidecars, by pod name, sorted.
	Pods []Sidecar
}

// Sidecar is one sidecar as last read.
type Sidecar struct {
	Pod string
	// KeyIDs are the ids of the keys its loaded ring holds; nil when it
	// could not be read, and then it counts as lacking every key.
	KeyIDs []string
}

// Lacking lists the sidecars that do not hold the key.
func (s Sidecars) Lacking(kid string) []string {
	var out []string
	for _, p := range s.Pods {
		if !slices.Contains(p.KeyIDs, kid) {
			out = append(out, p.Pod)
		}
	}
	return out
}

// Hold is a published key past its prepublish window that waits for
// sidecars to load it before it signs.
type Hold struct {
	KeyID string
	// Lacking are the sidecars without it.
	Lacking []string
	// Since is when the key would have signed but for them; Until is when
	// it signs whether they have it or not.
	Since, Until time.Time
}

// Result is the next state of the ring.
type Result struct {
	State
	Events []Event
	// NextRotation is when the next key will start to sign.
	NextRotation time.Time
	// Requeue is the earliest time the ring changes again by itself, or
	// the sidecars should be read again.
	Requeue time.Time
	// Held is set while a published key is past its prepublish window and
	// waits for sidecars.
	Held *Hold
}

// Generator makes a key: keyring.Generate, or a fixed one in tests.
type Generator func(alg jack.Algorithm, id string) (keyring.Key, error)

// plan carries a rotation in progress through the policies.
type plan struct {
	s      Settings
	seen   Sidecars
	held   *Hold
	now    time.Time
	gen    Generator
	st     State
	events []Event
}

// policy is one rule of the chain. It changes the plan when it applies.
type policy func(p *plan) error

// chain is the order rules apply in: security first (revocation), then
// keeping the ring whole, then time passing, then new rotations.
var chain = []policy{
	revoke,
	importLegacy,
	ensureActive,
	removeExpired,
	followSettings,
	dropStalePublished,
	promoteDue,
	publishIfRequested,
}

// Advance applies every rule to the state at time now, given what the
// sidecars were last seen to hold.
func Advance(st State, s Settings, seen Sidecars, now time.Time, gen Generator) (Result, error) {
	p := &plan{s: s, seen: seen, now: now.UTC().Truncate(time.Second), gen: gen, st: st}
	if p.st.Ring == nil {
		p.st.Ring = &keyring.Ring{TokenTTL: s.TokenTTL}
	} else {
		r := *p.st.Ring
		r.Keys = slices.Clone(r.Keys)
		p.st.Ring = &r
	}
	for _, rule := range chain {
		if err := rule(p); err != nil {
			return Result{}, err
		}
	}
	p.st.Ring.SortKeys()
	res := Result{State: p.st, Events: p.events, Held: p.held}
	res.NextRotation, res.Requeue = p.deadlines()
	return res, nil
}

func (p *plan) emit(reason, kid, format string, args ...any) {
	p.events = append(p.events, Event{Reason: reason, KeyID: kid, Message: fmt.Sprintf(format, args...)})
}

func (p *plan) warn(reason, kid, format string, args ...any) {
	p.events = append(p.events, Event{Reason: reason, KeyID: kid, Message: fmt.Sprintf(format, args...), Warning: true})
}

func (p *plan) ring() *keyring.Ring { return p.st.Ring }

func (p *plan) published() *keyring.Key {
	for i := range p.ring().Keys {
		if k := &p.ring().Keys[i]; k.State == jack.KeyPublished {
			return k
		}
	}
	return nil
}

// newKey generates a key with a fresh id: the time it was made and a random
// suffix, so ids sort by age and never repeat.
func (p *plan) newKey(state jack.KeyState, activatesAt time.Time) (*keyring.Key, error) {
	var id string
	for {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		id = p.now.Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
		if p.ring().Find(id) == nil && !slices.Contains(p.s.RevokedKeyIDs, id) {
			break
		}
	}
	k, err := p.gen(p.s.Algorithm, id)
	if err != nil {
		return nil, err
	}
	k.State, k.PublishedAt, k.ActivatedAt = state, p.now, activatesAt
	if state == jack.KeyActive {
		k.MaxTokenTTL = p.s.TokenTTL
	}
	p.ring().Keys = append(p.ring().Keys, k)
	return &p.ring().Keys[len(p.ring().Keys)-1], nil
}

// activate makes k the signing key at once and retires the previous one.
func (p *plan) activate(k *keyring.Key, why string) {
	kid := k.ID
	if old := p.ring().Active(); old != nil {
		old.State, old.RetiredAt = jack.KeyRetired, p.now
		old.ExpiresAt = p.now.Add(max(old.MaxTokenTTL, p.s.TokenTTL) + Leeway)
		p.emit(jack.EventKeyRetired, old.ID, "key %s stopped signing; it verifies the tokens it signed until %s", old.ID, old.ExpiresAt.Format(time.RFC3339))
	}
	k = p.ring().Find(kid) // the retirement above may not move keys, but be exact
	k.State, k.ActivatedAt, k.MaxTokenTTL = jack.KeyActive, p.now, p.s.TokenTTL
	p.emit(jack.EventRotated, k.ID, "key %s (%s) now signs new tokens: %s", k.ID, k.Algorithm, why)
}

// revoke drops every key listed in spec.revokedKeyIDs. If the signing key
// was among them, the next key signs at once: a published key if one is
// waiting (verifiers are likely to have it), else a brand-new one.
func revoke(p *plan) error {
	activeRevoked := false
	kept := p.ring().Keys[:0]
	for _, k := range p.ring().Keys {
		if slices.Contains(p.s.RevokedKeyIDs, k.ID) {
			activeRevoked = activeRevoked || k.State == jack.KeyActive
			p.emit(jack.EventKeyRevoked, k.ID, "key %s was revoked and removed from the ring: every token it signed is refused", k.ID)
			continue
		}
		kept = append(kept, k)
	}
	p.ring().Keys = kept
	if !activeRevoked {
		return nil
	}
	if next := p.published(); next != nil && next.Algorithm == p.s.Algorithm {
		p.activate(next, "the active key was revoked")
		return nil
	}
	k, err := p.newKey(jack.KeyPublished, p.now)
	if err != nil {
		return err
	}
	p.activate(k, "the active key was revoked; verifiers may refuse the new key until the kubelet delivers it")
	return nil
}

// importLegacy adds a pre-existing JWT_SECRET as a retired key that verifies
// tokens without a kid until they expire. It happens once.
func importLegacy(p *plan) error {
	if p.st.LegacyImported || p.s.LegacySecret == nil {
		return nil
	}
	id := "legacy-" + p.now.Format("20060102-150405")
	k, err := keyring.ImportHMAC(jack.AlgorithmHS256, id, p.s.LegacySecret)
	if err != nil {
		return fmt.Errorf("importing the legacy secret: %w", err)
	}
	k.State, k.PublishedAt, k.RetiredAt = jack.KeyRetired, p.now, p.now
	k.ExpiresAt = p.now.Add(p.s.TokenTTL + Leeway)
	p.ring().Keys = append(p.ring().Keys, k)
	p.st.LegacyImported = true
	p.emit(jack.EventKeyRetired, id, "imported the legacy JWT_SECRET as key %s: it verifies tokens without a kid until %s and never signs", id, k.ExpiresAt.Format(time.RFC3339))
	return nil
}

// ensureActive makes sure a key signs. A new ring's first key signs at once:
// no verifier can hold a token yet, so there is nothing to wait for.
func ensureActive(p *plan) error {
	if p.ring().Active() != nil {
		return nil
	}
	if next := p.published(); next != nil && next.Algorithm == p.s.Algorithm {
		p.activate(next, "no key was signing")
		return nil
	}
	k, err := p.newKey(jack.KeyPublished, p.now)
	if err != nil {
		return err
	}
	p.activate(k, "the ring's first key")
	return nil
}

// removeExpired drops retired keys once every token they signed has expired.
func removeExpired(p *plan) error {
	kept := p.ring().Keys[:0]
	for _, k := range p.ring().Keys {
		if k.State == jack.KeyRetired && !k.ExpiresAt.IsZero() && !p.now.Before(k.ExpiresAt) {
			p.emit(jack.EventKeyRemoved, k.ID, "key %s left the ring: every token it signed has expired", k.ID)
			continue
		}
		kept = append(kept, k)
	}
	p.ring().Keys = kept
	return nil
}

// followSettings copies the token settings into the ring and remembers the
// longest lifetime the signing key has issued tokens with.
func followSettings(p *plan) error {
	r := p.ring()
	r.TokenTTL, r.Issuer, r.Audience, r.SessionLifetime = p.s.TokenTTL, p.s.Issuer, p.s.Audience, p.s.SessionLifetime
	if a := r.Active(); a != nil {
		a.MaxTokenTTL = max(a.MaxTokenTTL, p.s.TokenTTL)
	}
	return nil
}

// dropStalePublished removes a waiting key whose algorithm is no longer the
// one asked for. It never signed, so no token depends on it.
func dropStalePublished(p *plan) error {
	if k := p.published(); k != nil && k.Algorithm != p.s.Algorithm {
		p.emit(jack.EventKeyRemoved, k.ID, "key %s was waiting to sign with %s, but the algorithm is now %s; it never signed", k.ID, k.Algorithm, p.s.Algorithm)
		p.ring().Keys = slices.DeleteFunc(p.ring().Keys, func(x keyring.Key) bool { return x.ID == k.ID })
	}
	return nil
}

// promoteDue lets a published key sign once its prepublish window is over
// and every sidecar holds it, so that no replica is handed a token signed by
// a key it lacks. Sidecars that never catch up hold it only until
// PropagationTimeout has passed too: then it signs, and a warning names them.
func promoteDue(p *plan) error {
	k := p.published()
	if k == nil || p.now.Before(k.ActivatedAt) {
		return nil
	}
	lacking := p.seen.Lacking(k.ID)
	until := k.ActivatedAt.Add(p.s.PropagationTimeout)
	switch {
	case len(p.seen.Pods) == 0:
		p.activate(k, "its prepublish window is over (no sidecar to wait for)")
	case len(lacking) == 0:
		p.activate(k, fmt.Sprintf("its prepublish window is over and every sidecar (%d) holds it", len(p.seen.Pods)))
	case !p.now.Before(until):
		p.warn(jack.EventPropagationTimedOut, k.ID, "key %s signs although %d of %d sidecars had not loaded it within rotation.propagationTimeout (%s): %s; they refuse its tokens until their kubelet brings the ring",
			k.ID, len(lacking), len(p.seen.Pods), p.s.PropagationTimeout, Names(lacking, 5))
		p.activate(k, "rotation.propagationTimeout ended")
	default:
		p.held = &Hold{KeyID: k.ID, Lacking: lacking, Since: k.ActivatedAt, Until: until}
	}
	return nil
}

// Names lists at most n names, and how many more there are.
func Names(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// publishIfRequested starts a rotation: manual (the rotate annotation has a
// new value), for a new algorithm, or on schedule. The new key verifies for
// rotation.prepublish before it signs. A rotation already under way
// satisfies any request.
func publishIfRequested(p *plan) error {
	active := p.ring().Active()
	manual := p.s.RotateRequest != "" && p.s.RotateRequest != p.st.HandledRotateRequest
	if manual {
		p.st.HandledRotateRequest = p.s.RotateRequest
	}
	if p.published() != nil {
		return nil
	}
	var why string
	activatesAt := p.now.Add(p.s.Prepublish)
	switch {
	case manual:
		why = fmt.Sprintf("rotation requested with %s=%s", jack.AnnotationRotate, p.s.RotateRequest)
	case active.Algorithm != p.s.Algorithm:
		why = fmt.Sprintf("the algorithm changed from %s to %s", active.Algorithm, p.s.Algorithm)
	case !p.now.Before(scheduledPublish(active, p.s)):
		why = "scheduled rotation"
		activatesAt = maxTime(activatesAt, active.ActivatedAt.Add(p.s.Interval))
	default:
		return nil
	}
	k, err := p.newKey(jack.KeyPublished, activatesAt)
	if err != nil {
		return err
	}
	p.emit(jack.EventKeyPublished, k.ID, "key %s (%s) is published and will sign from %s (%s)", k.ID, k.Algorithm, activatesAt.Format(time.RFC3339), why)
	return nil
}

// scheduledPublish is when the scheduled successor of the active key is
// published: prepublish before the active key has signed for a full interval.
func scheduledPublish(active *keyring.Key, s Settings) time.Time {
	return active.ActivatedAt.Add(s.Interval - s.Prepublish)
}

// deadlines are when the next key signs, and when the ring next changes by
// itself (a published key activating, a retired key leaving, the next
// scheduled publication).
func (p *plan) deadlines() (nextRotation, requeue time.Time) {
	active := p.ring().Active()
	if next := p.published(); next != nil {
		nextRotation = next.ActivatedAt
		requeue = next.ActivatedAt
		if len(p.seen.Lacking(next.ID)) > 0 {
			// Read the sidecars again soon: for the status while the key
			// waits out prepublish, to promote it as soon as they hold it
			// after.
			requeue = p.now.Add(PropagationPoll)
		}
	} else {
		nextRotation = active.ActivatedAt.Add(p.s.Interval)
		requeue = scheduledPublish(active, p.s)
	}
	for _, k := range p.ring().Keys {
		if k.State == jack.KeyRetired && !k.ExpiresAt.IsZero() {
			requeue = minTime(requeue, k.ExpiresAt)
		}
	}
	return nextRotation, requeue
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
