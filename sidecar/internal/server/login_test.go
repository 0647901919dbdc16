package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeLogin feeds arbitrary bodies to the login decoder: it must never
// panic, and must either refuse with an error of the contract or return both
// fields within their limits.
func FuzzDecodeLogin(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@b.c","password":"pw"}`, `{"email":1}`, `{`, ``, `[]`, `null`,
		`{"email":"a@b.c","password":"pw"}{}`, `{"email":"\u0000","password":"\ud800"}`,
		`{"email":"a@b.c","password":"pw","extra":{"deep":[1,2,3]}}`,
	} {
		f.Add(seed, "application/json")
	}
	f.Add(`email=a`, "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		req, apiErr := decodeLogin(w, r)
		switch {
		case apiErr != nil:
			if apiErr.Code.Status() < 400 || apiErr.Message == "" {
				t.Fatalf("refusal without a status or message: %+v", apiErr)
			}
			if strings.Contains(apiErr.Message, body) && len(body) > 8 {
				t.Fatalf("the refusal quotes the request body")
			}
		case req == nil || req.Email == nil || req.Password == nil:
			t.Fatal("accepted without both fields")
		case *req.Email == "" || *req.Password == "" || len(*req.Email) > 254 || len(*req.Password) > 1024:
			t.Fatalf("accepted out-of-bounds fields (%d, %d bytes)", len(*req.Email), len(*req.Password))
		}
	})
}
