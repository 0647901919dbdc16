package server

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/revocation"
)

// signClaims signs arbitrary claims with the team's key, as a token from an
// older issuer or a hand-made one would be.
func (tm *team) signClaims(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	k := &tm.ring.Keys[0]
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = k.ID
	s, err := tok.SignedString(k.SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEveryTokenTheSidecarAcceptsCanBeLoggedOut(t *testing.T) {
	now := time.Now()
	base := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "staff-1", "jti": "abc", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		change(c)
		return c
	}
	accepted := map[string]jwt.MapClaims{
		"the longest jti":                     base(func(c jwt.MapClaims) { c["jti"] = strings.Repeat("j", 128) }),
		"a jti with punctuation":              base(func(c jwt.MapClaims) { c["jti"] = `{"a":1}<>&%` }),
		"an expiry in the year 9999":          base(func(c jwt.MapClaims) { c["exp"] = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix() }),
		"no iat":                              base(func(c jwt.MapClaims) { delete(c, "iat") }),
		"no email, name or role claims":       base(func(jwt.MapClaims) {}),
		"a role claim the user no longer has": base(func(c jwt.MapClaims) { c["role"] = "admin" }),
	}
	for name, claims := range accepted {
		t.Run(name, func(t *testing.T) {
			tm := newTeam(t)
			h := newServer(t, tm, Config{})
			auth := "Bearer " + tm.signClaims(t, claims)
			if w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", auth), ""); w.Code != 200 {
				t.Fatalf("the token is not accepted: %d %s", w.Code, env.Error.Code)
			}
			if w, env := serve(t, h, request("POST", "/api/v1/auth/logout", "Authorization", auth), ""); w.Code != 200 {
				t.Fatalf("its logout answered %d %s (%s)", w.Code, env.Error.Code, env.Error.Message)
			}
			if w, _ := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", auth), ""); w.Code != 401 {
				t.Fatalf("after its logout the token gets %d", w.Code)
			}
		})
	}
	refused := map[string]jwt.MapClaims{
		"a jti one character too long": base(func(c jwt.MapClaims) { c["jti"] = strings.Repeat("j", 129) }),
		"a jti with a space":           base(func(c jwt.MapClaims) { c["jti"] = "a b" }),
		"a jti with a control":         base(func(c jwt.MapClaims) { c["jti"] = "a\x00b" }),
		"a jti outside ASCII":          base(func(c jwt.MapClaims) { c["jti"] = "é" }),
		"an empty jti":                 base(func(c jwt.MapClaims) { c["jti"] = "" }),
		"no jti":                       base(func(c jwt.MapClaims) { delete(c, "jti") }),
		"an expiry past the year 9999": base(func(c jwt.MapClaims) { c["exp"] = int64(253402300800) }),
		"a subject no user has":        base(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("s", 64) }),
	}
	for name, claims := range refused {
		t.Run(name, func(t *testing.T) {
			tm := newTeam(t)
			h := newServer(t, tm, Config{})
			auth := "Bearer " + tm.signClaims(t, claims)
			for _, r := range []struct{ method, target string }{{"GET", "/auth/api/v1/tasks"}, {"POST", "/api/v1/auth/logout"}} {
				if w, env := serve(t, h, request(r.method, r.target, "Authorization", auth), ""); w.Code != 401 || env.Error.Code != "TOKEN_INVALID" {
					t.Errorf("%s %s answered %d %s, want 401 TOKEN_INVALID", r.method, r.target, w.Code, env.Error.Code)
				}
			}
		})
	}
}

func TestALogoutTheStoreCannotHoldIsRefusedAndSaysSo(t *testing.T) {
	tm := newTeam(t)
	revs, err := revocation.Open("", time.Now(), revocation.Options{MaxPerSubject: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Source: tm.src, Revocations: revs})
	if err != nil {
		t.Fatal(err)
	}
	first := "Bearer " + tm.tokens[jack.RoleStaff]
	second := "Bearer " + tm.signClaims(t, jwt.MapClaims{"sub": "staff-1", "jti": "second", "exp": time.Now().Add(time.Hour).Unix()})
	if w, _ := serve(t, h, request("POST", "/api/v1/auth/logout", "Authorization", first), ""); w.Code != 200 {
		t.Fatalf("the first logout answered %d", w.Code)
	}
	w, env := serve(t, h, request("POST", "/api/v1/auth/logout", "Authorization", second), "")
	if w.Code != 503 || env.Error.Code != "SERVICE_UNAVAILABLE" || !strings.Contains(env.Error.Message, "still valid") || w.Header().Get("Retry-After") == "" {
		t.Fatalf("a logout past the user's share answered %d %s %q (Retry-After %q), want 503 saying the token is still valid",
			w.Code, env.Error.Code, env.Error.Message, w.Header().Get("Retry-After"))
	}
	if w, _ := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", second), ""); w.Code != 200 {
		t.Errorf("the token whose logout was refused gets %d; it must still work, as the answer said", w.Code)
	}
	if w, _ := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", first), ""); w.Code != 401 {
		t.Errorf("the token logged out first gets %d", w.Code)
	}
}

// confirmerFunc is a LogoutConfirmer made of a function: the replicas'
// confirmation as the test decides it, of the TokenRevocation named.
type confirmerFunc func(ctx context.Context, c confirmation) error

// confirmation is what a LogoutConfirmer was asked to confirm.
type confirmation struct{ name, subject string }

func (f confirmerFunc) Confirm(ctx context.Context, e revocation.Entry) error {
	return f(ctx, confirmation{jack.RevocationName(e.ID), e.Subject})
}

func (f confirmerFunc) ConfirmSession(ctx context.Context, e revocation.SessionEntry) error {
	return f(ctx, confirmation{jack.SessionRevocationName(e.ID), e.Subject})
}

func TestALogoutAnswersSuccessOnlyOnceEveryReplicaConfirms(t *testing.T) {
	tm := newTeam(t)
	confirmed := false // whether the other replicas confirm, at once
	var asked []confirmation
	h := newServer(t, tm, Config{LogoutConfirmTimeout: time.Second, LogoutConfirmer: confirmerFunc(func(ctx context.Context, c confirmation) error {
		asked = append(asked, c)
		if confirmed {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	})})
	auth := "Bearer " + tm.tokens[jack.RoleStaff]

	start := time.Now()
	w, env := serve(t, h, request("POST", "/api/v1/auth/logout", "Authorization", auth), "")
	took := time.Since(start)
	if w.Code != 503 || env.Error.Code != "LOGOUT_UNCONFIRMED" || w.Header().Get("Retry-After") != "1" || !strings.Contains(env.Error.Message, "Retry the logout") {
		t.Fatalf("an unconfirmed logout answered %d %s %q (Retry-After %q); want 503 LOGOUT_UNCONFIRMED, Retry-After 1",
			w.Code, env.Error.Code, env.Error.Message, w.Header().Get("Retry-After"))
	}
	if took < time.Second || took > 3*time.Second {
		t.Errorf("the unconfirmed logout answered after %s; want after the 1s timeout", took)
	}
	if w, _ := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", auth), ""); w.Code != 401 {
		t.Errorf("after an unconfirmed logout the token gets %d here; it must be refused at once", w.Code)
	}

	// The retry of the same token waits for the same confirmation.
	confirmed = true
	w = httptest.NewRecorder()
	h.ServeHTTP(w, request("POST", "/api/v1/auth/logout", "Authorization", auth))
	if w.Code != 200 || w.Body.String() != `{"success":true,"data":{"message":"Logged out."}}`+"\n" {
		t.Fatalf("the retried logout answered %d %s; want Jack's logout success", w.Code, w.Body)
	}
	if len(asked) != 2 || asked[0] != asked[1] || !strings.HasPrefix(asked[0].name, "sid-") || asked[0].subject != tm.ids[jack.RoleStaff] {
		t.Errorf("the confirmer was asked about %+v; want the same session's revocation twice", asked)
	}
	// Once logged out, the token still opens nothing but its own logout.
	if w, _ := serve(t, h, request("POST", "/api/v1/auth/refresh", "Authorization", auth), ""); w.Code != 401 {
		t.Errorf("a refresh with the logged-out token gets %d", w.Code)
	}
}

func TestALogoutRepeatedWithoutAPIAccessAnswersAsTheFirst(t *testing.T) {
	tm := newTeam(t)
	h := newServer(t, tm, Config{})
	auth := "Bearer " + tm.tokens[jack.RoleManager]
	for i := range 2 {
		if w, env := serve(t, h, request("POST", "/api/v1/auth/logout", "Authorization", auth), ""); w.Code != 200 {
			t.Fatalf("logout %d answered %d %s", i+1, w.Code, env.Error.Code)
		}
	}
	if w, _ := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", auth), ""); w.Code != 401 {
		t.Errorf("after two logouts the token gets %d", w.Code)
	}
}
