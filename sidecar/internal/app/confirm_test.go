package app

import (
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
	"github.com/jack-io/jack-operator/sidecar/internal/cluster"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
)

func TestAConfirmationQueryIsReadOrRefusedWithASentence(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC)
	for name, tc := range map[string]struct {
		query   string
		want    confirmQuery
		wantErr string
	}{
		"a revocation":                      {query: "revocation=jti-1&generation=2", want: confirmQuery{kind: confirmRevocation, name: "jti-1", generation: 2}},
		"a revocation, waiting":             {query: "revocation=jti-1&generation=1&wait=2s", want: confirmQuery{kind: confirmRevocation, name: "jti-1", generation: 1, wait: 2 * time.Second}},
		"a user":                            {query: "user=sam&sessionsValidAfter=2026-11-27T10:00:01Z", want: confirmQuery{kind: confirmUser, name: "sam", sessionsValidAfter: at}},
		"a wait past the bound is cut":      {query: "user=sam&sessionsValidAfter=2026-11-27T10:00:01Z&wait=1h", want: confirmQuery{kind: confirmUser, name: "sam", sessionsValidAfter: at, wait: jack.SidecarConfirmMaxWait}},
		"a zero wait answers now":           {query: "revocation=jti-1&generation=1&wait=0s", want: confirmQuery{kind: confirmRevocation, name: "jti-1", generation: 1}},
		"neither":                           {query: "wait=1s", wantErr: "name a revocation"},
		"both":                              {query: "revocation=jti-1&generation=1&user=sam&sessionsValidAfter=2026-11-27T10:00:01Z", wantErr: "not both"},
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
				!got.sessionsValidAfter.Equal(tc.want.sessionsValidAfter) || got.wait != tc.want.wait):
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// confirmFixture is /confirm served from real live views, fed as the
// watches feed them.
type confirmFixture struct {
	t           *testing.T
	revocations *cluster.Revocations
	users       *cluster.Users
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
	srv := httptest.NewServer(newConfirmer(f.revocations, f.users, maxWaiters, f.reg))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
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

	counts, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]float64{}
	for _, mf := range counts {
		for _, m := range mf.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetValue() + " "
			}
			results[strings.TrimSpace(key)] = m.GetCounter().GetValue()
		}
	}
	if results["invalid bad_request"] != 4 || results["revocation busy"] != 1 || results["revocation held"] != 2 || results["revocation not_held"] != 1 {
		t.Errorf("jack_sidecar_confirmations_total: %v", results)
	}
}

func TestASidecarWithoutAPICredentialsHoldsEverything(t *testing.T) {
	srv := httptest.NewServer(newConfirmer(nil, nil, 1, prometheus.NewRegistry()))
	defer srv.Close()
	for _, q := range []string{revocationQuery("any", "5s"), "user=sam&sessionsValidAfter=2026-11-27T10:00:00Z&wait=5s"} {
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
