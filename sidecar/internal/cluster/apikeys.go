package cluster

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/apikeys"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
)

// JackAPIKey is the part of a JackAPIKey the sidecar reads.
type JackAPIKey struct {
	Metadata struct {
		Name              string     `json:"name"`
		DeletionTimestamp *time.Time `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		Role      jack.Role  `json:"role"`
		Routes    []string   `json:"routes"`
		Expires   *time.Time `json:"expires"`
		Disabled  bool       `json:"disabled"`
		RateLimit *struct {
			RequestsPerSecond int `json:"requestsPerSecond"`
			Burst             int `json:"burst"`
		} `json:"rateLimit"`
	} `json:"spec"`
	Status struct {
		ID     string `json:"id"`
		Values []struct {
			Digest     string     `json:"digest"`
			State      string     `json:"state"`
			ValidUntil *time.Time `json:"validUntil"`
		} `json:"values"`
	} `json:"status"`
}

// previousState is api/v1alpha1.APIKeyPrevious, which this package does
// not import (it would link apimachinery into the sidecar).
const previousState = "Previous"

func (k *JackAPIKey) spec() apikeys.Spec {
	s := apikeys.Spec{Name: k.Metadata.Name, ID: k.Status.ID, Role: k.Spec.Role, Routes: k.Spec.Routes, Disabled: k.Spec.Disabled}
	if k.Spec.Expires != nil {
		s.Expires = *k.Spec.Expires
	}
	if rl := k.Spec.RateLimit; rl != nil {
		s.RateLimit = apikeys.RateLimit{PerSecond: rl.RequestsPerSecond, Burst: rl.Burst}
	}
	for _, v := range k.Status.Values {
		vs := apikeys.ValueSpec{Digest: v.Digest, Previous: v.State == previousState}
		if v.ValidUntil != nil {
			vs.ValidUntil = *v.ValidUntil
		}
		s.Values = append(s.Values, vs)
	}
	return s
}

// APIKeys is the live view of the namespace's JackAPIKeys: which digests
// authenticate as which key. It is a kube.Handler[JackAPIKey], and the
// server's APIKeys.
//
// Why the digests come through the watched object, not the key's Secret:
// a digest is not a secret — a key holds 190 random bits, so its SHA-256
// cannot be turned back into it, and it lets nobody call Jack — so it may
// travel where the sidecar's read-only Role reaches, and the Role still
// names no Secret (neither the sidecar nor the Jack container, which shares
// its service account, can read a key's value through the API). And a
// watch delivers a new key, a rotation, a disable or a delete to every
// replica within milliseconds, where the kubelet brings a mounted Secret's
// change after a minute or more — and mounting every key's Secret into
// every Jack pod would hand every value to the Jack container's node too.
//
// It is read on every request with an API key, so the index is rebuilt
// whole on each change and swapped with one atomic store: readers take no
// lock.
type APIKeys struct {
	path string

	// mu serializes the handler's calls with Usages' readers; requests
	// never take it.
	mu     sync.Mutex
	byName map[string]entry
	usage  map[string]*apikeys.Usage // by status.id, across rebuilds

	current atomic.Pointer[apikeys.Index]
}

type entry struct {
	spec apikeys.Spec
	key  *apikeys.Key
}

// NewAPIKeys returns the view of namespace's JackAPIKeys, not known until
// its first Replace.
func NewAPIKeys(namespace string) *APIKeys {
	return &APIKeys{
		path:   kube.CollectionPath(jack.Group, jack.Version, namespace, jack.ResourceJackAPIKeys),
		byName: map[string]entry{}, usage: map[string]*apikeys.Usage{},
	}
}

// ListWatch is the collection the reflector keeps current.
func (v *APIKeys) ListWatch() kube.ListWatch { return kube.ListWatch{Path: v.path} }

// Index implements the server's APIKeys: the keys as last seen, known
// once they were first listed. While the API server is away it keeps
// answering with the last state seen.
func (v *APIKeys) Index() (*apikeys.Index, bool) {
	ix := v.current.Load()
	return ix, ix != nil
}

// Len is the number of keys in the view.
func (v *APIKeys) Len() int {
	ix, _ := v.Index()
	return ix.Len()
}

// Replace implements kube.Handler.
func (v *APIKeys) Replace(items []JackAPIKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	clear(v.byName)
	for i := range items {
		v.setLocked(&items[i])
	}
	v.publishLocked()
}

// Upsert implements kube.Handler.
func (v *APIKeys) Upsert(k JackAPIKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.byName, k.Metadata.Name)
	v.setLocked(&k)
	v.publishLocked()
}

// Delete implements kube.Handler.
func (v *APIKeys) Delete(k JackAPIKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.byName, k.Metadata.Name)
	v.publishLocked()
}

// setLocked compiles one key. A key without an id or a value yet (the
// operator has not issued it) authenticates nothing; one being deleted
// (a finalizer holds it) is as good as gone.
func (v *APIKeys) setLocked(k *JackAPIKey) {
	if k.Status.ID == "" || len(k.Status.Values) == 0 || k.Metadata.DeletionTimestamp != nil {
		return
	}
	s := k.spec()
	u := v.usage[s.ID]
	if u == nil {
		u = apikeys.NewUsage()
		v.usage[s.ID] = u
	}
	v.byName[s.Name] = entry{spec: s, key: apikeys.NewKey(s, u)}
}

// publishLocked builds the index and swaps it in; the usage of ids no key
// has any more is forgotten.
func (v *APIKeys) publishLocked() {
	names := make([]string, 0, len(v.byName))
	for n := range v.byName {
		names = append(names, n)
	}
	sort.Strings(names) // the same input gives the same index
	specs := make([]apikeys.Spec, len(names))
	keys := make([]*apikeys.Key, len(names))
	ids := make(map[string]bool, len(names))
	for i, n := range names {
		specs[i], keys[i] = v.byName[n].spec, v.byName[n].key
		ids[specs[i].ID] = true
	}
	for id := range v.usage {
		if !ids[id] {
			delete(v.usage, id)
		}
	}
	v.current.Store(apikeys.NewIndex(specs, keys))
}
