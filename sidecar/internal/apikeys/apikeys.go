package apikeys

import (
	"encoding/hex"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/policy"
)

// UserIDPrefix starts the X-Jack-User-Id of an API key: "apikey:" and its
// status.id. JackUser ids never hold a ":", so Jack cannot mistake a key
// for a user.
const UserIDPrefix = "apikey:"

// Spec is what the sidecar reads of one JackAPIKey.
type Spec struct {
	Name      string
	ID        string
	Role      jack.Role
	Routes    []string
	Disabled  bool
	Expires   time.Time // zero: never
	RateLimit RateLimit
	Values    []ValueSpec
}

// ValueSpec is one of status.values: a digest, never a value.
type ValueSpec struct {
	Digest     string // SHA-256, hex
	Previous   bool
	ValidUntil time.Time // zero: no end (a Current value)
}

// RateLimit is spec.rateLimit; the zero value is none.
type RateLimit struct {
	PerSecond int
	Burst     int
}

// Key is one API key as compiled for requests. It never changes once built.
type Key struct {
	ID, Name string
	Role     jack.Role
	// Routes narrows the role (nil: every route of it). RoutesError is set
	// when spec.routes does not compile: the key is then allowed nothing.
	Routes      *policy.Routes
	RoutesError error
	Disabled    bool
	Expires     time.Time
	Usage       *Usage

	// Header values for Jack, made once: net/http never changes a value
	// slice, so every request shares these.
	HeaderUserID, HeaderRole, HeaderKeyID []string
}

// Value is one digest's entry: its key, and whether it is the value a
// rotation replaced, valid until ValidUntil.
type Value struct {
	Key        *Key
	Previous   bool
	ValidUntil time.Time
}

// Index is the namespace's API keys at one moment. It never changes once
// built; a change is a new Index.
type Index struct {
	byDigest map[[32]byte]Value
	keys     []*Key
}

// NewKey compiles a spec, sharing usage (the state carried over from the
// previous index for the same status.id).
func NewKey(s Spec, usage *Usage) *Key {
	k := &Key{ID: s.ID, Name: s.Name, Role: s.Role, Disabled: s.Disabled, Expires: s.Expires, Usage: usage,
		HeaderUserID: []string{UserIDPrefix + s.ID}, HeaderRole: []string{string(s.Role)}, HeaderKeyID: []string{s.ID}}
	k.Routes, k.RoutesError = policy.CompileRoutes(s.Routes)
	usage.setLimit(s.RateLimit)
	return k
}

// NewIndex indexes keys by the digests of their values. A digest that two
// keys claim (which the operator never writes) is left out: it is refused
// rather than given to either.
func NewIndex(specs []Spec, keys []*Key) *Index {
	ix := &Index{byDigest: make(map[[32]byte]Value, len(specs)*2), keys: keys}
	claimed := map[[32]byte]bool{}
	for i, s := range specs {
		for _, v := range s.Values {
			d, ok := parseDigest(v.Digest)
			if !ok {
				continue
			}
			if claimed[d] {
				delete(ix.byDigest, d)
				continue
			}
			claimed[d] = true
			ix.byDigest[d] = Value{Key: keys[i], Previous: v.Previous, ValidUntil: v.ValidUntil}
		}
	}
	return ix
}

func parseDigest(s string) ([32]byte, bool) {
	var d [32]byte
	if len(s) != hex.EncodedLen(len(d)) {
		return d, false
	}
	_, err := hex.Decode(d[:], []byte(s))
	return d, err == nil
}

// Lookup finds the value with this digest. It does not allocate.
func (ix *Index) Lookup(digest [32]byte) (Value, bool) {
	if ix == nil {
		return Value{}, false
	}
	v, ok := ix.byDigest[digest]
	return v, ok
}

// Keys are the indexed keys, for /state; the caller must not change them.
func (ix *Index) Keys() []*Key {
	if ix == nil {
		return nil
	}
	return ix.keys
}

// Len is the number of keys.
func (ix *Index) Len() int { return len(ix.Keys()) }

// Outcome is what happened to a request with a known key. Its String is
// the outcome label of jack_sidecar_apikey_requests_total.
type Outcome uint8

const (
	Allowed Outcome = iota
	Forbidden
	RateLimited
	Expired
	Disabled
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"allowed", "forbidden", "rate_limited", "expired", "disabled"}

func (o Outcome) String() string { return outcomeNames[o] }

// Outcomes lists every outcome, for tests and dashboards.
func Outcomes() []Outcome { return []Outcome{Allowed, Forbidden, RateLimited, Expired, Disabled} }

// Decide says whether a known value may authenticate at now: Allowed (so
// far: the role, routes and rate limit come after), Disabled, or Expired —
// the key's spec.expires has passed, or the value is the previous one and
// its overlap has ended. A disabled key is Disabled even when expired: it
// is what its owner did last.
func Decide(v Value, now time.Time) Outcome {
	k := v.Key
	switch {
	case k.Disabled:
		return Disabled
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return Expired
	case v.Previous && !now.Before(v.ValidUntil):
		// A Previous value without validUntil has no overlap left.
		return Expired
	}
	return Allowed
}

// Usage is what a key's requests change, kept per status.id across
// indexes: the hour of its last accepted use, its rate limit's bucket, and
// the outcome counters' children (resolved once, so a request resolves no
// labels).
type Usage struct {
	lastHour atomic.Int64 // Unix seconds of the hour's start; 0: never used here
	bucket   atomic.Pointer[bucket]
	counters [numOutcomes]atomic.Pointer[counter]
	// lastLog is when a refusal of each outcome was last logged (Unix
	// seconds); suppressed counts those not logged since.
	lastLog    [numOutcomes]atomic.Int64
	suppressed [numOutcomes]atomic.Int64
}

type bucket struct {
	limit RateLimit
	lim   *rate.Limiter
}

// counter is whatever the server counts an outcome with.
type counter struct{ c interface{ Inc() } }

// NewUsage returns the state of a key never used here.
func NewUsage() *Usage { return &Usage{} }

// setLimit keeps the bucket when the limit did not change: a rebuild of
// the index must not give a key a fresh burst.
func (u *Usage) setLimit(l RateLimit) {
	if b := u.bucket.Load(); b != nil && b.limit == l || b == nil && l.PerSecond <= 0 {
		return
	}
	if l.PerSecond <= 0 {
		u.bucket.Store(nil)
		return
	}
	burst := l.Burst
	if burst <= 0 {
		burst = l.PerSecond
	}
	u.bucket.Store(&bucket{limit: l, lim: rate.NewLimiter(rate.Limit(l.PerSecond), burst)})
}

// Take spends one request of the key's rate limit at now. Without a limit
// it always may; otherwise it reports, when it may not, how long until it
// may (at least a second, Retry-After's unit). It does not allocate.
func (u *Usage) Take(now time.Time) (bool, time.Duration) {
	b := u.bucket.Load()
	if b == nil || b.lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.lim.TokensAt(now)
	wait := time.Duration(missing / float64(b.lim.Limit()) * float64(time.Second))
	return false, max(wait, time.Second)
}

// Used records an accepted use at now. It reports true for the first use
// of an hour (UTC), which is worth an audit line.
func (u *Usage) Used(now time.Time) bool {
	hour := now.UTC().Truncate(time.Hour).Unix()
	for {
		last := u.lastHour.Load()
		if last >= hour {
			return false
		}
		if u.lastHour.CompareAndSwap(last, hour) {
			return true
		}
	}
}

// LastUsed is the start of the last hour (UTC) in which the key was
// accepted here; zero when it never was.
func (u *Usage) LastUsed() time.Time {
	h := u.lastHour.Load()
	if h == 0 {
		return time.Time{}
	}
	return time.Unix(h, 0).UTC()
}

// Counters makes the counter of a key's outcome (the server's metric
// vector, labelled with the key's id and the outcome).
type Counters interface {
	APIKeyCounter(id string, o Outcome) interface{ Inc() }
}

// Count increments the counter of outcome o for the key, made by mk the
// first time and kept in its Usage: a request resolves no labels.
func (k *Key) Count(o Outcome, mk Counters) {
	u := k.Usage
	c := u.counters[o].Load()
	if c == nil {
		c = &counter{c: mk.APIKeyCounter(k.ID, o)}
		if !u.counters[o].CompareAndSwap(nil, c) {
			c = u.counters[o].Load()
		}
	}
	c.c.Inc()
}

// ShouldLog reports whether a refusal of outcome o at now is to be logged:
// the first one a minute per key and outcome, so that a caller hammering
// with a disabled key cannot flood the log. It returns how many were not
// logged since the last line.
func (u *Usage) ShouldLog(o Outcome, now time.Time) (bool, int64) {
	sec := now.Unix()
	last := u.lastLog[o].Load()
	if last != 0 && sec-last < 60 || !u.lastLog[o].CompareAndSwap(last, sec) {
		u.suppressed[o].Add(1)
		return false, 0
	}
	return true, u.suppressed[o].Swap(0)
}
