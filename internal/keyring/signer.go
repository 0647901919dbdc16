package keyring

import (
	"slices"

	"github.com/jack-io/jack-operator/api/jack"
)

// Signer returns the key to sign new tokens with, or nil when none may.
//
// announced is the active key id the SigningKey's status names, as the
// sidecar learned it from the API server ("" when it has not): the operator
// announces a promotion there within a second, while the kubelet brings
// the ring file that says so 0.1 to 90 seconds later, so replicas that
// followed their files alone would sign with two keys meanwhile. The
// announced key signs when the ring holds it, Published or Active, and it
// is newer than the ring's Active key (or, published in the same second,
// its successor: see succeeds); otherwise the ring's Active key does. The newer-than test lets a ring file that is ahead of the status
// win: a file that already shows the announced key Retired, or another key
// Active after it, was written later than what the status says.
//
// revoked are the ids the SigningKey's spec revokes, which the operator
// drops from the ring: a key listed there never signs, even before the
// kubelet brings the ring without it, and there is then no signer until
// the ring names one that is not revoked.
//
// A legacy key never signs.
func (r *Ring) Signer(announced string, revoked []string) *Key {
	signer := r.Active()
	if k := r.Find(announced); k != nil && !k.Legacy && (k.State == jack.KeyPublished || k.State == jack.KeyActive) && (signer == nil || k.newerThan(signer) || k.succeeds(signer)) {
		signer = k
	}
	if signer == nil || signer.Legacy || slices.Contains(revoked, signer.ID) {
		return nil
	}
	return signer
}

// succeeds reports whether k, Published, is the successor of o, Active,
// published in the same second: the operator publishes a key only after
// the one before it is active, so of two keys neither of which is newer,
// the published one came second. Without it a rotation forced within a
// second of a SigningKey's creation left the tie to the ids' random
// suffixes, and every replica kept the old key until its kubelet.
func (k *Key) succeeds(o *Key) bool {
	return k.State == jack.KeyPublished && o.State == jack.KeyActive && k.PublishedAt.Equal(o.PublishedAt)
}

// newerThan reports whether k was published after o. The operator's key ids
// start with their creation time (20261127-015500-3f9a), so they break a tie
// in the same order.
func (k *Key) newerThan(o *Key) bool {
	if c := k.PublishedAt.Compare(o.PublishedAt); c != 0 {
		return c > 0
	}
	return k.ID > o.ID
}
