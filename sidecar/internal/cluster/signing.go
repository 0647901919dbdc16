package cluster

import (
	"slices"
	"sync/atomic"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
)

// SigningKey is the part of a SigningKey the sidecar reads.
type SigningKey struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		RevokedKeyIDs []string `json:"revokedKeyIDs"`
	} `json:"spec"`
	Status struct {
		ActiveKeyID string `json:"activeKeyID"`
	} `json:"status"`
}

// Signing is the live view of the sidecar's own SigningKey: the key its
// status announces as active and the keys its spec revokes. The operator
// writes both within a second of a promotion or a revocation, where the
// kubelet takes up to a minute and a half to bring the ring file that says
// so; every replica reading them here signs with one key, and refuses a
// revoked one, at once. It is a kube.Handler[SigningKey], and the server's
// Signing.
//
// It is read on every request, so it is a pointer swapped whole: readers
// take no lock.
type Signing struct {
	name, path string
	current    atomic.Pointer[announcement]
}

// announcement is one state of the SigningKey, never changed once stored.
type announcement struct {
	active  string
	revoked []string
}

// NewSigning returns the view of the SigningKey name in namespace, not
// known until its first Replace.
func NewSigning(namespace, name string) *Signing {
	return &Signing{name: name, path: kube.CollectionPath(jack.Group, jack.Version, namespace, jack.ResourceSigningKeys)}
}

// ListWatch is the collection the reflector should keep current: the one
// SigningKey, selected by name, so the sidecar reads nothing of the others
// in its namespace.
func (v *Signing) ListWatch() kube.ListWatch {
	return kube.ListWatch{Path: v.path, FieldSelector: "metadata.name=" + v.name}
}

// Announced implements the server's Signing: status.activeKeyID and
// spec.revokedKeyIDs as last seen (the caller must not change the slice),
// known once the SigningKey was first listed. While the API server is away
// it keeps answering with the last state seen.
func (v *Signing) Announced() (string, []string, bool) {
	a := v.current.Load()
	if a == nil {
		return "", nil, false
	}
	return a.active, a.revoked, true
}

// Replace implements kube.Handler. A list without the SigningKey means it
// was deleted: nothing is announced or revoked then, and the ring file
// decides alone.
func (v *Signing) Replace(items []SigningKey) {
	for i := range items {
		if items[i].Metadata.Name == v.name {
			v.Upsert(items[i])
			return
		}
	}
	v.current.Store(&announcement{})
}

// Upsert implements kube.Handler.
func (v *Signing) Upsert(k SigningKey) {
	if k.Metadata.Name != v.name {
		return
	}
	v.current.Store(&announcement{active: k.Status.ActiveKeyID, revoked: slices.Clone(k.Spec.RevokedKeyIDs)})
}

// Delete implements kube.Handler.
func (v *Signing) Delete(k SigningKey) {
	if k.Metadata.Name == v.name {
		v.current.Store(&announcement{})
	}
}
