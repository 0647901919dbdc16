package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

func validJackAPIKey(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": authv1alpha1.GroupVersion.String(),
		"kind":       "JackAPIKey",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       map[string]any{"role": "staff"},
	}}
}

func TestValidJackAPIKeyIsAcceptedWithDefaults(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	u := validJackAPIKey(ns, "billing")
	u.Object["spec"] = map[string]any{
		"role": "manager", "routes": []any{"/api/v1/reports/**", "GET /api/v1/guests/*"}, "expires": "2030-01-01T00:00:00Z",
		"displayName": "billing export", "owner": "billing@example.com", "rateLimit": map[string]any{"requestsPerSecond": int64(10), "burst": int64(20)},
	}
	if err := k8s.Create(ctx, u); err != nil {
		t.Fatalf("a valid JackAPIKey was refused: %v", err)
	}
	got := &authv1alpha1.JackAPIKey{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "billing"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.RotationOverlap == nil || got.Spec.RotationOverlap.Duration.String() != "24h0m0s" || got.Spec.Disabled {
		t.Errorf("defaults: rotationOverlap %v, disabled %v; want 24h and false", got.Spec.RotationOverlap, got.Spec.Disabled)
	}
	for name, overlap := range map[string]string{"zero": "0s", "thirty-days": "720h"} {
		u := validJackAPIKey(ns, "overlap-"+name)
		u.Object["spec"].(map[string]any)["rotationOverlap"] = overlap
		if err := k8s.Create(ctx, u); err != nil {
			t.Errorf("rotationOverlap %s was refused: %v", overlap, err)
		}
	}
}

func TestInvalidJackAPIKeysAreRefusedWithASentence(t *testing.T) {
	ns := newNamespace(t)
	routeSentence := `each route must be "/path" or "METHOD /path", such as "GET /api/v1/tasks/**"`
	cases := map[string]struct {
		mutate func(spec map[string]any)
		want   refusal
	}{
		"a missing role": {
			mutate: func(s map[string]any) { delete(s, "role") },
			want:   refusal{"spec.role", "Required value"},
		},
		"an unknown role": {
			mutate: func(s map[string]any) { s["role"] = "owner" },
			want:   refusal{"spec.role", `supported values: "admin", "manager", "staff"`},
		},
		"a route without a leading slash": {
			mutate: func(s map[string]any) { s["routes"] = []any{"api/v1/tasks"} },
			want:   refusal{"spec.routes[0]", routeSentence},
		},
		"a route with a lower-case method": {
			mutate: func(s map[string]any) { s["routes"] = []any{"get /api/v1/tasks"} },
			want:   refusal{"spec.routes[0]", routeSentence},
		},
		"a route with a space in its path": {
			mutate: func(s map[string]any) { s["routes"] = []any{"/api/v1/tasks", "GET /api/v1/my tasks"} },
			want:   refusal{"spec.routes[1]", routeSentence},
		},
		"a burst below the rate": {
			mutate: func(s map[string]any) {
				s["rateLimit"] = map[string]any{"requestsPerSecond": int64(10), "burst": int64(5)}
			},
			want: refusal{"spec", "rateLimit.burst must be at least rateLimit.requestsPerSecond, or the key could never use its rate"},
		},
		"a rate of zero": {
			mutate: func(s map[string]any) { s["rateLimit"] = map[string]any{"requestsPerSecond": int64(0)} },
			want:   refusal{"spec.rateLimit.requestsPerSecond", "should be greater than or equal to 1"},
		},
		"a negative rotation overlap": {
			mutate: func(s map[string]any) { s["rotationOverlap"] = "-1s" },
			want:   refusal{"spec.rotationOverlap", "rotationOverlap must be between 0s and 720h (30 days)"},
		},
		"a rotation overlap over thirty days": {
			mutate: func(s map[string]any) { s["rotationOverlap"] = "721h" },
			want:   refusal{"spec.rotationOverlap", "rotationOverlap must be between 0s and 720h (30 days)"},
		},
		"a display name over 128 characters": {
			mutate: func(s map[string]any) { s["displayName"] = strings.Repeat("x", 129) },
			want:   refusal{"spec.displayName", "may not be more than 128 bytes"},
		},
	}
	i := 0
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			i++
			u := validJackAPIKey(ns, fmt.Sprintf("key-%d", i))
			tc.mutate(u.Object["spec"].(map[string]any))
			assertRefused(t, k8s.Create(context.Background(), u), tc.want)
		})
	}
}

func TestAJackAPIKeyNameTooLongForItsSecretIsRefused(t *testing.T) {
	ns := newNamespace(t)
	if err := k8s.Create(context.Background(), validJackAPIKey(ns, strings.Repeat("k", 246))); err != nil {
		t.Fatalf("a 246-character name was refused: %v", err)
	}
	err := k8s.Create(context.Background(), validJackAPIKey(ns, strings.Repeat("k", 247)))
	if err == nil || !strings.Contains(err.Error(), "its Secret is named <name>-apikey, at most 253") {
		t.Fatalf("a 247-character name: %v, want the sentence about its Secret's name", err)
	}
}
