package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/keyring"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// announcement is a fixed view of the SigningKey.
type announcement struct {
	active  string
	revoked []string
}

func (a announcement) Announced() (string, []string, bool) { return a.active, a.revoked, true }

// rotatingTeam is a team whose ring holds the active key k1, which signed
// the team's tokens, and k2, published after it: a ring in the middle of a
// rotation. It returns a token of the staff user signed with k2.
func rotatingTeam(t *testing.T) (*team, string) {
	t.Helper()
	tm := newTeam(t)
	k2, err := keyring.Generate(jack.AlgorithmHS256, "k2")
	if err != nil {
		t.Fatal(err)
	}
	k2.State, k2.PublishedAt = jack.KeyPublished, tm.ring.Keys[0].PublishedAt.Add(time.Minute)
	tm.ring.Keys = append(tm.ring.Keys, k2)
	tm.src.keys = NewKeys(tm.ring)
	staff, _ := tm.src.users.Index.ByID(tm.ids[jack.RoleStaff])
	tok, _, err := token.Sign(tm.ring, tm.ring.Find("k2"), subjectOf(*staff), token.Session{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tm, tok
}

// kidOf reads a token's kid header.
func kidOf(t *testing.T, tok string) string {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("the token's header is not base64url: %v", err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func TestTheSidecarSignsWithTheAnnouncedKeyAndNeverWithARevokedOne(t *testing.T) {
	cases := map[string]struct {
		signing Signing // nil: no API access
		// wantKid is the kid of a login's token; "" when no key may sign
		// and the login is answered SERVICE_UNAVAILABLE.
		wantKid string
	}{
		"without API access: the ring's active key":       {nil, "k1"},
		"nothing announced yet: the ring's active key":    {announcement{}, "k1"},
		"the published key announced: it signs at once":   {announcement{active: "k2"}, "k2"},
		"a key the ring lacks announced: the active key":  {announcement{active: "k3"}, "k1"},
		"the announced key revoked: nothing signs":        {announcement{active: "k2", revoked: []string{"k2"}}, ""},
		"the active key revoked, its successor not here":  {announcement{active: "k3", revoked: []string{"k1"}}, ""},
		"the published key revoked: the active key signs": {announcement{active: "k1", revoked: []string{"k2"}}, "k1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tm, _ := rotatingTeam(t)
			h := newServer(t, tm, Config{Signing: tc.signing})
			r := request("POST", "/api/v1/auth/login", "Content-Type", "application/json")
			r.Body = ioNopCloser(`{"email":"staff@example.com","password":"a team password"}`)
			r.RemoteAddr = "192.0.2.1:1"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var answer struct {
				Data  struct{ Token string }
				Error struct{ Code string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
				t.Fatalf("%d %q is not the envelope", w.Code, w.Body)
			}
			if tc.wantKid == "" {
				if w.Code != 503 || answer.Error.Code != "SERVICE_UNAVAILABLE" || w.Header().Get("Retry-After") == "" {
					t.Fatalf("the login answered %d %s; want 503 SERVICE_UNAVAILABLE with Retry-After", w.Code, answer.Error.Code)
				}
				return
			}
			if w.Code != 200 {
				t.Fatalf("the login answered %d %s", w.Code, answer.Error.Code)
			}
			if kid := kidOf(t, answer.Data.Token); kid != tc.wantKid {
				t.Errorf("the new token is signed with %s; want %s", kid, tc.wantKid)
			}
		})
	}
}

func TestATokenOfARevokedKeyIsRefusedBeforeTheRingDropsIt(t *testing.T) {
	cases := map[string]struct {
		signing  Signing
		byK1     int // the answer of /auth to a token signed with k1
		byK2     int // and with k2
		wantCode string
	}{
		"nothing revoked":         {announcement{active: "k1"}, 200, 200, ""},
		"k2 revoked":              {announcement{active: "k1", revoked: []string{"k2"}}, 200, 401, "TOKEN_INVALID"},
		"k1 revoked":              {announcement{active: "k2", revoked: []string{"k1"}}, 401, 200, "TOKEN_INVALID"},
		"without API access":      {nil, 200, 200, ""},
		"an unknown key revoked":  {announcement{revoked: []string{"k9"}}, 200, 200, ""},
		"both revoked, k2 active": {announcement{active: "k2", revoked: []string{"k1", "k2"}}, 401, 401, "TOKEN_INVALID"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tm, byK2 := rotatingTeam(t)
			h := newServer(t, tm, Config{Signing: tc.signing})
			for _, try := range []struct {
				kid  string
				tok  string
				want int
			}{{"k1", tm.tokens[jack.RoleStaff], tc.byK1}, {"k2", byK2, tc.byK2}} {
				w, env := serve(t, h, request("GET", "/auth/api/v1/tasks", "Authorization", "Bearer "+try.tok), "")
				if w.Code != try.want {
					t.Errorf("a token signed with %s: %d %s; want %d", try.kid, w.Code, env.Error.Code, try.want)
				}
				if w.Code == 401 && env.Error.Code != tc.wantCode {
					t.Errorf("a token signed with %s is refused with %s; want %s", try.kid, env.Error.Code, tc.wantCode)
				}
			}
		})
	}
}
