package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/session"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// objects is an API server for TokenRevocations in memory: resourceVersions,
// generations that count spec changes, merge patches that apply to the
// version they name, and the CRD's rule that a session's spec only grows
// stricter — enough to show what the sidecar writes, and that it never
// loses another sidecar's write. The envtest suites of package sidecar
// check the same against the real API server.
type objects struct {
	mu    sync.Mutex
	items map[string]TokenRevocation
	rv    int
	down  bool // every call fails as an unreachable server's
	calls []string
}

func newObjects() *objects { return &objects{items: map[string]TokenRevocation{}} }

func statusErr(code int, reason string) error {
	return &kube.StatusError{Verb: "test", Code: code, Reason: reason, Message: reason}
}

func (o *objects) call(verb string) error {
	o.calls = append(o.calls, verb)
	if o.down {
		return &kube.TransportError{Verb: verb, Err: errors.New("connection refused")}
	}
	return nil
}

func (o *objects) Create(_ context.Context, _ string, obj any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.call("create"); err != nil {
		return err
	}
	it := obj.(*TokenRevocation)
	if _, ok := o.items[it.Metadata.Name]; ok {
		return statusErr(http.StatusConflict, "AlreadyExists")
	}
	o.rv++
	it.Metadata.Generation, it.Metadata.ResourceVersion = 1, strconv.Itoa(o.rv)
	o.items[it.Metadata.Name] = roundTrip(*it)
	return nil
}

func (o *objects) Get(_ context.Context, path string, into any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.call("get"); err != nil {
		return err
	}
	it, ok := o.items[path[strings.LastIndex(path, "/")+1:]]
	if !ok {
		return statusErr(http.StatusNotFound, "NotFound")
	}
	*into.(*TokenRevocation) = it
	return nil
}

func (o *objects) MergePatch(_ context.Context, path string, patch, into any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.call("patch"); err != nil {
		return err
	}
	name := path[strings.LastIndex(path, "/")+1:]
	it, ok := o.items[name]
	if !ok {
		return statusErr(http.StatusNotFound, "NotFound")
	}
	b, _ := json.Marshal(patch)
	var p struct {
		Metadata struct{ ResourceVersion string } `json:"metadata"`
	}
	_ = json.Unmarshal(b, &p)
	if p.Metadata.ResourceVersion != "" && p.Metadata.ResourceVersion != it.Metadata.ResourceVersion {
		return statusErr(http.StatusConflict, "Conflict")
	}
	next := it
	if err := json.Unmarshal(b, &next); err != nil {
		return err
	}
	before, after := it.Spec.record(), next.Spec.record()
	if before.Ended && !after.Ended || after.Generation < before.Generation || after.ExpiresAt.Before(before.ExpiresAt) {
		return statusErr(http.StatusUnprocessableEntity, "Invalid")
	}
	o.rv++
	next.Metadata.ResourceVersion = strconv.Itoa(o.rv)
	if !before.Equal(after) {
		next.Metadata.Generation++
	}
	o.items[name] = roundTrip(next)
	*into.(*TokenRevocation) = o.items[name]
	return nil
}

// roundTrip is it as the API server stores it: JSON, whole seconds.
func roundTrip(it TokenRevocation) TokenRevocation {
	b, _ := json.Marshal(it)
	var out TokenRevocation
	_ = json.Unmarshal(b, &out)
	out.Spec.GraceUntil = out.Spec.GraceUntil.Truncate(time.Second)
	out.Spec.ExpiresAt = out.Spec.ExpiresAt.Truncate(time.Second)
	return out
}

func (o *objects) get(t *testing.T, name string) TokenRevocation {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	it, ok := o.items[name]
	if !ok {
		t.Fatalf("no TokenRevocation %s", name)
	}
	return it
}

// writeElsewhere is another sidecar's write of the session, which this one
// has not seen.
func (o *objects) writeElsewhere(t *testing.T, name string, change func(*revocationSpec)) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	it := o.items[name]
	change(&it.Spec)
	o.rv++
	it.Metadata.Generation++
	it.Metadata.ResourceVersion = strconv.Itoa(o.rv)
	o.items[name] = roundTrip(it)
}

// sessionStore is a sidecar's Revocations on api, with an in-memory file.
func sessionStore(t *testing.T, api API) *Revocations {
	t.Helper()
	local, err := revocation.Open("", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return NewRevocations(RevocationsConfig{Local: local, API: api, Namespace: "shop", SigningKey: "jack", Log: logr.Discard()})
}

func refreshedAt(gen int64, now time.Time) session.Record {
	return session.Record{Generation: gen, GraceUntil: now.Add(10 * time.Second).Truncate(time.Second), ExpiresAt: now.Add(time.Hour).Truncate(time.Second)}
}

func TestASessionRecordedHereReachesItsTokenRevocationAndNeverUndoesAnotherWrite(t *testing.T) {
	now := time.Now().UTC()
	api := newObjects()
	r := sessionStore(t, api)
	name := jack.SessionRevocationName("sess")
	ctx := context.Background()

	// A refresh here: created, with the user, the generation and the grace.
	if _, changed, err := r.RecordSession(revocation.SessionEntry{ID: "sess", Subject: "staff-1", Record: refreshedAt(1, now)}); err != nil || !changed {
		t.Fatalf("recording a refresh: changed %v, %v", changed, err)
	}
	if r.Pending() != 1 {
		t.Fatalf("%d pending after a refresh, want 1", r.Pending())
	}
	if err := r.flush(ctx); err != nil {
		t.Fatal(err)
	}
	it := api.get(t, name)
	if it.Spec.SessionID != "sess" || it.Spec.TokenID != "" || it.Spec.UserID != "staff-1" || it.Spec.Generation != 1 || it.Spec.Ended ||
		it.Metadata.Labels[jack.LabelSigningKey] != "jack" || r.Pending() != 0 {
		t.Fatalf("after the outbox ran: %+v, %d pending", it, r.Pending())
	}

	// Another replica refreshes the newest token meanwhile; this one has not
	// seen it when it logs the session out.
	api.writeElsewhere(t, name, func(s *revocationSpec) {
		s.Generation, s.GraceUntil, s.ExpiresAt = 2, now.Add(12*time.Second), now.Add(2*time.Hour)
	})
	logout := session.Logout(r.Session("sess", now), tokenOf("sess", 1, now.Add(time.Hour)))
	if _, _, err := r.RecordSession(revocation.SessionEntry{ID: "sess", Subject: "staff-1", Record: logout}); err != nil {
		t.Fatal(err)
	}
	api.calls = nil
	if err := r.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(api.calls, ","); got != "patch,get,patch" {
		t.Errorf("the write of the logout called %s; want a patch refused for its stale version, a reread, and a patch", got)
	}
	it = api.get(t, name)
	if !it.Spec.Ended || it.Spec.EndedBecause != jack.SessionEndedByLogout || it.Spec.Generation != 2 || !it.Spec.ExpiresAt.Equal(now.Add(2*time.Hour).Truncate(time.Second)) {
		t.Errorf("after the logout the spec is %+v; want ended, with the other replica's generation and expiry", it.Spec)
	}
	// What the other replica wrote is held here too, without the watch.
	if got := r.Session("sess", now); !got.Ended || got.Generation != 2 {
		t.Errorf("the local record is %+v; want the merge of both writes", got)
	}
	if r.Pending() != 0 {
		t.Errorf("%d pending once the API server holds everything", r.Pending())
	}
	// Nothing more to write: a repeated logout writes nothing.
	api.calls = nil
	if _, changed, _ := r.RecordSession(revocation.SessionEntry{ID: "sess", Record: logout}); changed || r.Pending() != 0 {
		t.Errorf("a repeated logout changed the record (%v) or is pending (%d)", changed, r.Pending())
	}
}

// tokenOf is the claims of a token of session sid, of generation gen.
func tokenOf(sid string, gen int64, exp time.Time) token.Claims {
	return token.Claims{SessionID: sid, SessionGeneration: gen, ExpiresAt: exp.Truncate(time.Second), AuthTime: exp.Add(-2 * time.Hour)}
}

func TestWhatTheAPIServerLacksIsWrittenOnceItAnswers(t *testing.T) {
	now := time.Now().UTC()
	api := newObjects()
	r := sessionStore(t, api)
	name := jack.SessionRevocationName("sess")
	api.down = true
	ended := session.EndForReuse(refreshedAt(3, now), tokenOf("sess", 1, now.Add(time.Hour)))
	if _, _, err := r.RecordSession(revocation.SessionEntry{ID: "sess", Subject: "staff-1", Record: ended}); err != nil {
		t.Fatal(err)
	}
	if err := r.flush(context.Background()); err == nil || r.Pending() != 1 {
		t.Fatalf("an unreachable API server: flush %v, %d pending; want an error, the session kept pending", err, r.Pending())
	}
	api.down = false

	// The list after the outage has the session as another replica wrote
	// it before: older, not ended. The end is not forgotten, and is
	// written again.
	api.items[name] = roundTrip(TokenRevocation{Metadata: revocationMetadata{Name: name, Generation: 1, ResourceVersion: "1"},
		Spec: revocationSpec{SigningKey: "jack", SessionID: "sess", Generation: 2, GraceUntil: now, ExpiresAt: now.Add(time.Hour)}})
	r.Replace([]TokenRevocation{api.items[name]})
	if got := r.Session("sess", now); !got.Ended || got.Generation != 3 {
		t.Fatalf("after the relist the local record is %+v; want it still ended", got)
	}
	if r.Pending() != 1 {
		t.Fatalf("%d pending after a relist that lacks the end; want it pending", r.Pending())
	}
	if err := r.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if it := api.get(t, name); !it.Spec.Ended || it.Spec.EndedBecause != jack.SessionEndedByTokenReuse || it.Spec.Generation != 3 {
		t.Errorf("after the outage the spec is %+v; want the end for reuse written", it.Spec)
	}
	// A relist that has everything leaves nothing pending.
	r.Replace([]TokenRevocation{api.get(t, name)})
	if r.Pending() != 0 {
		t.Errorf("%d pending after a relist with everything", r.Pending())
	}
}

func TestASessionIsHeldOnceItsRecordIsHereAndConfirmedOnceTheStatusSaysSo(t *testing.T) {
	now := time.Now().UTC()
	api := newObjects()
	r := sessionStore(t, api)
	name := jack.SessionRevocationName("sess")
	// Another replica's refresh, then its logout, as the watch brings them.
	obj := TokenRevocation{Metadata: revocationMetadata{Name: name, Generation: 1, ResourceVersion: "5"},
		Spec: revocationSpec{SigningKey: "jack", SessionID: "sess", UserID: "staff-1", Generation: 1, GraceUntil: now.Add(10 * time.Second), ExpiresAt: now.Add(time.Hour)}}
	obj = roundTrip(obj)
	r.Upsert(obj)
	if !r.Held(name, 1) || r.Held(name, 2) {
		t.Errorf("after generation 1: held at 1 %v, at 2 %v; want only at 1", r.Held(name, 1), r.Held(name, 2))
	}
	obj.Metadata.Generation, obj.Metadata.ResourceVersion, obj.Spec.Ended, obj.Spec.EndedBecause = 2, "6", true, jack.SessionEndedByLogout
	r.Upsert(obj)
	if !r.Held(name, 2) || !r.Session("sess", now).Ended {
		t.Errorf("after the logout elsewhere: held at 2 %v, local %+v", r.Held(name, 2), r.Session("sess", now))
	}
	// A write's answer that the watch overtook does not take the view back.
	stale := obj
	stale.Metadata.Generation = 1
	r.mu.Lock()
	r.see(name, seenOf(stale))
	r.mu.Unlock()
	if !r.Held(name, 2) {
		t.Error("an older generation took the view back")
	}

	// A logout here of the same session waits for the operator's status.
	api.items[name] = obj
	e := revocation.SessionEntry{ID: "sess", Subject: "staff-1", Record: r.Session("sess", now)}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.ConfirmSession(ctx, e); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ConfirmSession before the status confirms: %v, want the deadline", err)
	}
	if calls := strings.Join(api.calls, ","); calls != "" {
		t.Errorf("a logout of a session the API server has ended already called %s; want nothing", calls)
	}
	done := make(chan error, 1)
	go func() { done <- r.ConfirmSession(context.Background(), e) }()
	time.Sleep(20 * time.Millisecond)
	obj.Status.ConfirmedGeneration = 2
	r.Upsert(obj)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ConfirmSession: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ConfirmSession did not return once the status confirmed the generation")
	}

	// The answer to a write of that generation, handed over after the
	// watch brought the operator's confirmation of it, does not take the
	// confirmation back: a logout retried then answers at once.
	unconfirmed := obj
	unconfirmed.Status.ConfirmedGeneration = 1
	r.mu.Lock()
	r.see(name, seenOf(unconfirmed))
	r.mu.Unlock()
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.ConfirmSession(ctx, e); err != nil {
		t.Errorf("ConfirmSession once the status confirmed, after a late write's answer: %v; want nil", err)
	}
}
