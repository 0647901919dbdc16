package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jack-io/jack-operator/api/jack"
)

func TestHandler(t *testing.T) {
	tests := map[string]struct {
		method, path string
		headers      map[string]string
		wantStatus   int
		wantResource string
		wantUser     identity
		wantHeaders  int
	}{
		"a collection echoes the identity the sidecar set": {
			method: http.MethodGet, path: "/api/v1/tasks",
			headers:    map[string]string{jack.HeaderUserID: "staff-1", jack.HeaderUserEmail: "sam@example.com", jack.HeaderUserRole: "staff"},
			wantStatus: http.StatusOK, wantResource: "tasks",
			wantUser:    identity{ID: "staff-1", Email: "sam@example.com", Role: "staff"},
			wantHeaders: 3,
		},
		"an item under a collection is served by it": {
			method: http.MethodPost, path: "/api/v1/settings/smtp",
			headers:    map[string]string{jack.HeaderUserRole: "admin"},
			wantStatus: http.StatusOK, wantResource: "settings",
			wantUser:    identity{Role: "admin"},
			wantHeaders: 1,
		},
		"other X-Jack- headers are reported too": {
			method: http.MethodGet, path: "/api/v1/users",
			headers:    map[string]string{"X-Jack-Forged": "yes", jack.HeaderAuthRequestUser: "x"},
			wantStatus: http.StatusOK, wantResource: "users",
			wantHeaders: 2,
		},
		"an unknown route is a 404 in Jack's envelope": {
			method: http.MethodGet, path: "/api/v1/payroll",
			wantStatus: http.StatusNotFound,
		},
	}
	h := newHandler("pod-a")
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			var got struct {
				Success bool `json:"success"`
				Data    echo `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
			}
			if tc.wantStatus != http.StatusOK {
				if got.Success {
					t.Fatalf("success true on a %d", rec.Code)
				}
				return
			}
			if !got.Success || got.Data.Resource != tc.wantResource || got.Data.User != tc.wantUser ||
				got.Data.Method != tc.method || got.Data.Pod != "pod-a" || len(got.Data.Headers) != tc.wantHeaders {
				t.Fatalf("got %+v", got)
			}
		})
	}
}
