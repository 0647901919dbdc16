package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/testsupport/kubelettest"
	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/internal/userdir"
	"github.com/jack-io/jack-operator/sidecar/internal/cluster"
	"github.com/jack-io/jack-operator/sidecar/internal/livefile"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
	"github.com/jack-io/jack-operator/sidecar/internal/server"
)

func TestAConfirmationQueryIsReadOrRefusedWithASentence(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC)
	for name, tc := range map[string]struct {
		query   string
		want    confirmQuery
		wantErr string
	}{
		"a revocation":                 {query: "revocation=jti-1&generation=2", want: confirmQuery{kind: confirmRevocation, name: "jti-1", generation: 2}},
		"a revocation, waiting":        {query: "revocation=jti-1&generation=1&wait=2s", want: confirmQuery{kind: confirmRevocation, name: "jti-1", generation: 1, wait: 2 * time.Second}},
		"a user":                       {query: "user=sam&sessionsValidAfter=2026-11-27T10:00:01Z", want: confirmQuery{kind: confirmUser, name: "sam", sessionsValidAfter: at}},
		"a wait past the bound is cut": {query: "user=sam&sessionsValidAfter=2026-11-27T10:00:01Z&wait=1h", want: confirmQuery{kind: confirmUser, name: "sam", sessionsValidAfter: at, wait: jack.SidecarConfirmMaxWait}},
		"a zero wait answers now":      {query: "revocation=jti-1&generation=1&wait=0s", want: confirmQuery{kind: confirmRevocation, name: "jti-1", generation: 1}},
		"a login": {query: "login=eve&id=staff-1&email=eve%40example.com&passwordVersion=0a1b&wait=2s",
			want: confirmQuery{kind: confirmLogin, name: "eve", id: "staff-1", email: "eve@example.com", passwordVersion: "0a1b", wait: 2 * time.Second}},
		"a login of a disabled user": {query: "login=eve&id=staff-1&email=eve%40example.com&passwordVersion=0a1b&disabled=true",
			want: confirmQuery{kind: confirmLogin, name: "eve", id: "staff-1", email: "eve@example.com", passwordVersion: "0a1b", disabled: true}},
		"neither":                           {query: "wait=1s", wantErr: "name a revocation"},
		"both":                              {query: "revocation=jti-1&generation=1&user=sam&sessionsValidAfter=2026-11-27T10:00:01Z", wantErr: "not several"},
		"a login and a user":                {query: "login=eve&id=staff-1&email=e%40x.io&passwordVersion=v&user=eve&sessionsValidAfter=2026-11-27T10:00:01Z", wantErr: "not several"},
		"a login without an id":             {query: "login=eve&email=eve%40example.com&passwordVersion=0a1b", wantErr: "needs id"},
		"a login without an email":          {query: "login=eve&id=staff-1&passwordVersion=0a1b", wantErr: "needs email"},
		"a login without a version":         {query: "login=eve&id=staff-1&email=eve%40example.com", wantErr: "needs passwordVersion"},
		"a login with a bad disabled":       {query: "login=eve&id=staff-1&email=eve%40example.com&passwordVersion=0a1b&disabled=maybe", wantErr: "true or false"},
		"a login with a bad wait":           {query: "login=eve&id=staff-1&email=eve%40example.com&passwordVersion=0a1b&wait=soon", wantErr: "duration"},
		"a revocation without a generation": {query: "revocation=jti-1", wantErr: "generation"},
		"a generation that is not a number": {query: "revocation=jti-1&generation=one", wantErr: "positive whole number"},
		"a generation of zero":              {query: "revocation=jti-1&generation=0", wantErr: "positive whole number"},
		"a user without a time":             {query: "user=sam", wantErr: "RFC 3339"},
		"a time that is not RFC 3339":       {query: "user=sam&sessionsValidAfter=yesterday", wantErr: "RFC 3339"},
		"a wait that is not a duration":     {query: "revocation=jti-1&generation=1&wait=2", wantErr: "duration"},
		"a negative wait":                   {query: "revocation=jti-1&generation=1&wait=-1s", wantErr: "duration"},
	} {
		t.Run(name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseConfirmQuery(q)
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v; want one saying %q", err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr == "" && (got.kind != tc.want.kind || got.name != tc.want.name || got.generation != tc.want.generation ||
				!got.sessionsValidAfter.Equal(tc.want.sessionsValidAfter) || got.wait != tc.want.wait ||
				got.id != tc.want.id || got.email != tc.want.email || got.passwordVersion != tc.want.passwordVersion || got.disabled != tc.want.disabled):
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// confirmFixture is /confirm served from real live views, fed as the
// watches feed them, and a user directory file loaded from a volume that
// the test swaps as the kubelet does.
type confirmFixture struct {
	t           *testing.T
	revocations *cluster.Revocations
	users       *cluster.Users
	volume      *kubelettest.Volume
	directory   *livefile.File[*server.Users]
	url         string
	reg         *prometheus.Registry
}

func newConfirmFixture(t *testing.T, maxWaiters int) *confirmFixture {
	t.Helper()
	local, err := revocation.Open("", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := &confirmFixture{t: t, users: cluster.NewUsers(), reg: prometheus.NewRegistry(),
		revocations: cluster.NewRevocations(cluster.RevocationsConfig{Local: local, Namespace: "shop", SigningKey: "jack", Log: logr.Discard()})}
	f.volume = kubelettest.NewVolume(t, t.TempDir(), directoryFiles(t))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir, err := livefile.Watch(ctx, livefile.Options[*server.Users]{
		Path: f.volume.Path(jack.SecretKeyUserDirectory), PollInterval: time.Hour, // notifications alone
		Parse: func(b []byte) (*server.Users, error) {
			d, err := userdir.Decode(b)
			if err != nil {
				return nil, err
			}
			return server.NewUsers(d), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.directory = dir
	srv := httptest.NewServer(newConfirmer(f.revocations, f.users, loadedUsers{dir}, maxWaiters, f.reg))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// directoryFiles is a user directory Secret's data with these users.
func directoryFiles(t *testing.T, users ...userdir.User) map[string][]byte {
	t.Helper()
	data, err := (&userdir.Directory{Users: users}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{jack.SecretKeyUserDirectory: data}
}

// revocationOf is a TokenRevocation of token tok at generation 1, as the
// watch delivers it.
func revocationOf(t *testing.T, tok string) cluster.TokenRevocation {
	t.Helper()
	var it cluster.TokenRevocation
	doc := `{"metadata":{"name":"` + jack.RevocationName(tok) + `","generation":1},"spec":{"signingKey":"jack","tokenID":"` + tok +
		`","expiresAt":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}}`
	if err := json.Unmarshal([]byte(doc), &it); err != nil {
		t.Fatal(err)
	}
	return it
}

type confirmAnswer struct {
	status int
	held   bool
	body   string
	took   time.Duration
}

func (f *confirmFixture) ask(query string) confirmAnswer {
	f.t.Helper()
	start := time.Now()
	resp, err := http.Get(f.url + jack.SidecarConfirmPath + "?" + query)
	if err != nil {
		f.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	a := confirmAnswer{status: resp.StatusCode, body: string(body), took: time.Since(start)}
	if resp.StatusCode == http.StatusOK {
		var c jack.Confirmation
		if err := json.Unmarshal(body, &c); err != nil {
			f.t.Fatalf("the answer is not a Confirmation: %s", body)
		}
		a.held = c.Held
	}
	return a
}

func revocationQuery(tok, wait string) string {
	return "revocation=" + jack.RevocationName(tok) + "&generation=1&wait=" + wait
}

func TestConfirmAnswersFromTheWatchedViews(t *testing.T) {
	f := newConfirmFixture(t, 8)
	f.revocations.Replace([]cluster.TokenRevocation{revocationOf(t, "listed")})

	if a := f.ask(revocationQuery("listed", "0s")); a.status != 200 || !a.held {
		t.Errorf("a listed revocation: %d %s; want held", a.status, a.body)
	}
	if a := f.ask(revocationQuery("unknown", "")); a.status != 200 || a.held || a.took > time.Second {
		t.Errorf("an unknown revocation without wait: %d %s after %s; want not held at once", a.status, a.body, a.took)
	}
	if a := f.ask("revocation=" + jack.RevocationName("listed") + "&generation=2"); a.held {
		t.Error("a revocation seen at generation 1 is held at generation 2")
	}

	// A wait ends the moment the watch delivers the change.
	done := make(chan confirmAnswer, 1)
	go func() { done <- f.ask(revocationQuery("later", "5s")) }()
	time.Sleep(100 * time.Millisecond)
	f.revocations.Upsert(revocationOf(t, "later"))
	select {
	case a := <-done:
		if a.status != 200 || !a.held || a.took > time.Second {
			t.Errorf("a wait for a revocation that then arrives: %d %s after %s; want held within a second", a.status, a.body, a.took)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a waiting confirmation was not woken by the change")
	}

	// Other changes wake it, but do not end it.
	go func() { done <- f.ask(revocationQuery("never", "400ms")) }()
	time.Sleep(100 * time.Millisecond)
	f.revocations.Upsert(revocationOf(t, "another"))
	if a := <-done; a.status != 200 || a.held || a.took < 400*time.Millisecond {
		t.Errorf("a wait for a revocation that never arrives: %d %s after %s; want not held after the whole wait", a.status, a.body, a.took)
	}

	// Users: by name, at or past the time; a JackUser that is gone is held.
	f.users.Replace([]cluster.JackUser{jackUser(t, "sam", `{"status":{"id":"staff-1","sessionsValidAfter":"2026-11-27T10:00:00Z"}}`)})
	if a := f.ask("user=sam&sessionsValidAfter=2026-11-27T10:00:00Z"); !a.held {
		t.Errorf("sessions ended at the time asked about: %s", a.body)
	}
	go func() { done <- f.ask("user=sam&sessionsValidAfter=2026-11-27T10:00:05Z&wait=5s") }()
	time.Sleep(100 * time.Millisecond)
	f.users.Upsert(jackUser(t, "sam", `{"status":{"id":"staff-1","sessionsValidAfter":"2026-11-27T10:00:05Z"}}`))
	if a := <-done; !a.held || a.took > time.Second {
		t.Errorf("a wait for ended sessions that then arrive: %s after %s", a.body, a.took)
	}
	if a := f.ask("user=gone&sessionsValidAfter=2026-11-27T10:00:00Z"); !a.held {
		t.Errorf("a JackUser that is not in the view: %s; want held, its tokens are refused", a.body)
	}
}

func jackUser(t *testing.T, name, doc string) cluster.JackUser {
	t.Helper()
	var u cluster.JackUser
	if err := json.Unmarshal([]byte(doc), &u); err != nil {
		t.Fatal(err)
	}
	u.Metadata.Name = name
	return u
}

func TestConfirmRefusesBadQueriesAndWaitersPastTheBound(t *testing.T) {
	f := newConfirmFixture(t, 1)
	for _, q := range []string{"", "revocation=x", "user=sam&sessionsValidAfter=soon", "revocation=x&generation=1&user=sam"} {
		a := f.ask(q)
		var env struct {
			Success bool
			Error   struct{ Code, Message string }
		}
		if a.status != http.StatusBadRequest || json.Unmarshal([]byte(a.body), &env) != nil || env.Success || env.Error.Code != "BAD_REQUEST" ||
			!strings.HasSuffix(env.Error.Message, ".") {
			t.Errorf("query %q: %d %s; want 400 with the error envelope and a sentence", q, a.status, a.body)
		}
	}

	// One waiter holds the only slot; a second waiter is refused at once,
	// and a question that does not wait is still answered.
	done := make(chan confirmAnswer, 1)
	go func() { done <- f.ask(revocationQuery("slow", "2s")) }()
	time.Sleep(100 * time.Millisecond)
	if a := f.ask(revocationQuery("other", "2s")); a.status != http.StatusServiceUnavailable || a.took > time.Second || !strings.Contains(a.body, "SERVICE_UNAVAILABLE") {
		t.Errorf("a waiter past the bound: %d %s after %s; want 503 at once", a.status, a.body, a.took)
	}
	if a := f.ask(revocationQuery("other", "")); a.status != 200 || a.held {
		t.Errorf("a question without wait past the bound: %d %s; want answered, not held", a.status, a.body)
	}
	f.revocations.Upsert(revocationOf(t, "slow"))
	if a := <-done; !a.held {
		t.Errorf("the waiter holding the slot: %s", a.body)
	}
	if a := f.ask(revocationQuery("slow", "2s")); !a.held {
		t.Errorf("once the slot is free again: %d %s", a.status, a.body)
	}

	results := confirmCounts(t, f.reg)
	if results["invalid bad_request"] != 4 || results["revocation busy"] != 1 || results["revocation held"] != 2 || results["revocation not_held"] != 1 {
		t.Errorf("jack_sidecar_confirmations_total: %v", results)
	}
}

func TestASidecarWithoutAPICredentialsHoldsEverything(t *testing.T) {
	srv := httptest.NewServer(newConfirmer(nil, nil, nil, 1, prometheus.NewRegistry()))
	defer srv.Close()
	for _, q := range []string{revocationQuery("any", "5s"), "user=sam&sessionsValidAfter=2026-11-27T10:00:00Z&wait=5s", loginQuery("v1", "5s")} {
		start := time.Now()
		resp, err := http.Get(srv.URL + jack.SidecarConfirmPath + "?" + q)
		if err != nil {
			t.Fatal(err)
		}
		var c jack.Confirmation
		err = json.NewDecoder(resp.Body).Decode(&c)
		_ = resp.Body.Close()
		if err != nil || !c.Held || time.Since(start) > time.Second {
			t.Errorf("%s: held %v (%v) after %s; want held at once", q, c.Held, err, time.Since(start))
		}
	}
}

func loginQuery(version, wait string) string {
	return "login=eve&id=staff-7&email=Eve%40Example.com&passwordVersion=" + version + "&wait=" + wait
}

// TestALoginIsHeldOnceTheDirectoryFileHasTheUser: a new user, then a new
// password, is held only once the kubelet has swapped in a directory with
// it and the watched JackUser agrees; a waiting question is answered the
// moment the swap is loaded.
func TestALoginIsHeldOnceTheDirectoryFileHasTheUser(t *testing.T) {
	f := newConfirmFixture(t, 8)
	eve := func(version string) userdir.User {
		return userdir.User{ID: "staff-7", Email: "eve@example.com", Name: "Eve", Role: jack.RoleStaff, PasswordHash: "$argon2id$not-checked-here", PasswordVersion: version}
	}
	f.users.Replace([]cluster.JackUser{jackUser(t, "eve", `{"spec":{"role":"staff"},"status":{"id":"staff-7","passwordVersion":"v1"}}`)})

	// The JackUser is Ready, the directory file does not have eve yet.
	if a := f.ask(loginQuery("v1", "")); a.status != 200 || a.held {
		t.Fatalf("a user the directory file lacks: %d %s; want not held", a.status, a.body)
	}
	done := make(chan confirmAnswer, 1)
	go func() { done <- f.ask(loginQuery("v1", "5s")) }()
	time.Sleep(200 * time.Millisecond)
	f.volume.Update(directoryFiles(t, eve("v1")))
	select {
	case a := <-done:
		if a.status != 200 || !a.held || a.took > 2*time.Second {
			t.Errorf("a wait for a user the kubelet then brings: %d %s after %s; want held once the swap is loaded", a.status, a.body, a.took)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("a waiting login confirmation was not answered")
	}

	// A new password: the watch brings the version first, and the old hash
	// in the file holds neither version — as a login refuses both.
	f.users.Upsert(jackUser(t, "eve", `{"spec":{"role":"staff"},"status":{"id":"staff-7","passwordVersion":"v2"}}`))
	for _, v := range []string{"v1", "v2"} {
		if a := f.ask(loginQuery(v, "")); a.held {
			t.Errorf("password version %s while the view says v2 and the file v1: held", v)
		}
	}
	go func() { done <- f.ask(loginQuery("v2", "5s")) }()
	time.Sleep(200 * time.Millisecond)
	f.volume.Update(directoryFiles(t, eve("v2")))
	if a := <-done; !a.held || a.took > 2*time.Second {
		t.Errorf("a wait for the new password's hash: %s after %s; want held once the swap is loaded", a.body, a.took)
	}

	// Disabled: the watch says so before the file does, and a login is
	// refused at once; asked as disabled, that is held, and asked as able
	// to log in, not.
	f.users.Upsert(jackUser(t, "eve", `{"spec":{"role":"staff","disabled":true},"status":{"id":"staff-7","passwordVersion":"v2"}}`))
	if a := f.ask(loginQuery("v2", "") + "&disabled=true"); !a.held {
		t.Errorf("a user the watch has disabled, asked as disabled: %s; want held", a.body)
	}
	if a := f.ask(loginQuery("v2", "")); a.held {
		t.Errorf("a user the watch has disabled, asked as able to log in: %s; want not held", a.body)
	}
	// Enabled again: the file still has them disabled, so a login is
	// refused until the kubelet brings the entry enabled.
	off := eve("v2")
	off.Disabled = true
	f.volume.Update(directoryFiles(t, off))
	poll.True(t, 5*time.Second, "the directory with eve disabled to load", func() bool {
		users, _ := f.directory.Load()
		_, disabled := users.Holds("staff-7", "eve@example.com", "v2")
		return disabled
	})
	f.users.Upsert(jackUser(t, "eve", `{"spec":{"role":"staff"},"status":{"id":"staff-7","passwordVersion":"v2"}}`))
	go func() { done <- f.ask(loginQuery("v2", "5s")) }()
	time.Sleep(200 * time.Millisecond)
	f.volume.Update(directoryFiles(t, eve("v2")))
	if a := <-done; !a.held || a.took < 200*time.Millisecond || a.took > 2*time.Second {
		t.Errorf("a wait for the entry enabled again: %s after %s; want held once the swap is loaded", a.body, a.took)
	}

	// A JackUser the view does not have logs in nowhere, whatever the file.
	f.users.Delete(jackUser(t, "eve", `{}`))
	if a := f.ask(loginQuery("v2", "")); a.held {
		t.Errorf("a deleted JackUser still in the file: %s; want not held", a.body)
	}

	counts := confirmCounts(t, f.reg)
	if counts["login held"] != 4 || counts["login not_held"] != 5 {
		t.Errorf("jack_sidecar_confirmations_total: %v; want 4 login held, 5 login not_held", counts)
	}
}

// confirmCounts is jack_sidecar_confirmations_total by "kind result".
func confirmCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetValue() + " "
			}
			results[strings.TrimSpace(key)] = m.GetCounter().GetValue()
		}
	}
	return results
}
