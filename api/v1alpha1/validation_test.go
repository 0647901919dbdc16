package v1alpha1_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// These tests run against a real kube-apiserver and etcd with the generated
// CRDs installed: they prove what a user sees from kubectl apply.

var (
	env   *testenv.Env
	k8s   client.Client
	nsSeq atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Scheme(), func(e *testenv.Env) (func(), error) {
		env, k8s = e, e.Client
		return nil, nil
	}))
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("api-test-%d", nsSeq.Add(1))}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

func validJackUser(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": authv1alpha1.GroupVersion.String(),
		"kind":       "JackUser",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"email":             "Alice@Example.com",
			"name":              "Alice Liddell",
			"role":              "staff",
			"passwordSecretRef": map[string]any{"name": "alice-pw"},
		},
	}}
}

func validSigningKey(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": authv1alpha1.GroupVersion.String(),
		"kind":       "SigningKey",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       map[string]any{},
	}}
}

func TestValidJackUserIsAcceptedWithDefaults(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	if err := k8s.Create(ctx, validJackUser(ns, "alice")); err != nil {
		t.Fatalf("a valid JackUser was refused: %v", err)
	}
	var got authv1alpha1.JackUser
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "alice"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.PasswordSecretRef.Key != "password" {
		t.Errorf("passwordSecretRef.key defaulted to %q, want %q", got.Spec.PasswordSecretRef.Key, "password")
	}
	if got.Spec.Disabled {
		t.Errorf("disabled defaulted to true, want false")
	}
	if got.Spec.Role != jack.RoleStaff || got.Spec.Email != "Alice@Example.com" {
		t.Errorf("spec changed on the way in: %+v", got.Spec)
	}
}

func TestValidSigningKeyIsAcceptedWithDefaults(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	if err := k8s.Create(ctx, validSigningKey(ns, "jack")); err != nil {
		t.Fatalf("a SigningKey with an empty spec was refused: %v", err)
	}
	var got authv1alpha1.SigningKey
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "jack"}, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"algorithm":                   "HS256",
		"tokenTTL":                    "24h0m0s",
		"rotation.interval":           "720h0m0s",
		"rotation.prepublish":         "5m0s",
		"rotation.propagationTimeout": "15m0s",
		"sessionLifetime":             "720h0m0s",
		"secret name":                 "jack-jwt",
	}
	have := map[string]string{
		"rotation.propagationTimeout": got.Spec.Rotation.PropagationTimeout.Duration.String(),
		"sessionLifetime":             got.Spec.SessionLifetime.Duration.String(),
		"algorithm":                   string(got.Spec.Algorithm),
		"tokenTTL":                    got.Spec.TokenTTL.Duration.String(),
		"rotation.interval":           got.Spec.Rotation.Interval.Duration.String(),
		"rotation.prepublish":         got.Spec.Rotation.Prepublish.Duration.String(),
		"secret name":                 got.SecretName(),
	}
	for field, w := range want {
		if have[field] != w {
			t.Errorf("%s defaulted to %q, want %q", field, have[field], w)
		}
	}
}

func TestLegacySecretRefKeyDefaultsToJWTSecret(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	sk := validSigningKey(ns, "migrated")
	sk.Object["spec"] = map[string]any{"legacySecretRef": map[string]any{"name": "jack-env"}}
	if err := k8s.Create(ctx, sk); err != nil {
		t.Fatalf("a SigningKey importing a legacy secret was refused: %v", err)
	}
	var got authv1alpha1.SigningKey
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "migrated"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.LegacySecretRef == nil || got.Spec.LegacySecretRef.Key != jack.SecretKeyJWTSecret {
		t.Errorf("legacySecretRef = %+v, want key defaulted to %q", got.Spec.LegacySecretRef, jack.SecretKeyJWTSecret)
	}
}

// refusal is what a user must read when the API server refuses an object:
// the field it is about and the sentence that explains it.
type refusal struct {
	field   string
	message string
}

func assertRefused(t *testing.T, err error, want refusal) {
	t.Helper()
	if err == nil {
		t.Fatalf("the API server accepted it; want a refusal about %s: %q", want.field, want.message)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("refused with %v, want an Invalid error", err)
	}
	if !strings.Contains(err.Error(), want.field+":") || !strings.Contains(err.Error(), want.message) {
		t.Fatalf("refused with\n  %v\nwant it to name %s and say %q", err, want.field, want.message)
	}
}

func TestInvalidJackUsersAreRefusedWithASentence(t *testing.T) {
	ns := newNamespace(t)
	cases := map[string]struct {
		mutate func(spec map[string]any)
		want   refusal
	}{
		"an email without an at sign": {
			mutate: func(s map[string]any) { s["email"] = "alice.example.com" },
			want:   refusal{"spec.email", "email must be an address like alice@example.com"},
		},
		"an email with a space in it": {
			mutate: func(s map[string]any) { s["email"] = "alice smith@example.com" },
			want:   refusal{"spec.email", "email must be an address like alice@example.com"},
		},
		"an email without a domain dot": {
			mutate: func(s map[string]any) { s["email"] = "alice@localhost" },
			want:   refusal{"spec.email", "email must be an address like alice@example.com"},
		},
		"an email longer than 254 characters": {
			mutate: func(s map[string]any) { s["email"] = strings.Repeat("a", 250) + "@example.com" },
			want:   refusal{"spec.email", "may not be more than 254 bytes"},
		},
		"a missing email": {
			mutate: func(s map[string]any) { delete(s, "email") },
			want:   refusal{"spec.email", "Required value"},
		},
		"an unknown role": {
			mutate: func(s map[string]any) { s["role"] = "owner" },
			want:   refusal{"spec.role", `supported values: "admin", "manager", "staff"`},
		},
		"an empty display name": {
			mutate: func(s map[string]any) { s["name"] = "" },
			want:   refusal{"spec.name", "name must not be empty: give the user's display name"},
		},
		"a blank display name": {
			mutate: func(s map[string]any) { s["name"] = "   " },
			want:   refusal{"spec.name", "name must not be empty: give the user's display name"},
		},
		"a missing password reference": {
			mutate: func(s map[string]any) { delete(s, "passwordSecretRef") },
			want:   refusal{"spec.passwordSecretRef", "Required value"},
		},
		"a password reference without a Secret name": {
			mutate: func(s map[string]any) { s["passwordSecretRef"] = map[string]any{"key": "pw"} },
			want:   refusal{"spec.passwordSecretRef.name", "Required value"},
		},
		"a password reference to an impossible Secret name": {
			mutate: func(s map[string]any) { s["passwordSecretRef"] = map[string]any{"name": "Alice_PW"} },
			want:   refusal{"spec.passwordSecretRef.name", "passwordSecretRef.name must be the name of a Secret"},
		},
		"an id with upper-case letters": {
			mutate: func(s map[string]any) { s["id"] = "Staff-1" },
			want:   refusal{"spec.id", "id must be lower-case letters, digits and dashes"},
		},
	}
	i := 0
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			i++
			u := validJackUser(ns, fmt.Sprintf("user-%d", i))
			tc.mutate(u.Object["spec"].(map[string]any))
			assertRefused(t, k8s.Create(context.Background(), u), tc.want)
		})
	}
}

func TestInvalidSigningKeysAreRefusedWithASentence(t *testing.T) {
	ns := newNamespace(t)
	cases := map[string]struct {
		spec map[string]any
		want refusal
	}{
		"an unknown algorithm": {
			spec: map[string]any{"algorithm": "none"},
			want: refusal{"spec.algorithm", `supported values: "HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"`},
		},
		"a zero token lifetime": {
			spec: map[string]any{"tokenTTL": "0s"},
			want: refusal{"spec.tokenTTL", "tokenTTL must be between 1m and 720h (30 days)"},
		},
		"a negative token lifetime": {
			spec: map[string]any{"tokenTTL": "-1h"},
			want: refusal{"spec.tokenTTL", "tokenTTL must be a positive duration such as 24h or 90m"},
		},
		"a token lifetime that is not a duration": {
			spec: map[string]any{"tokenTTL": "one day"},
			want: refusal{"spec.tokenTTL", "tokenTTL must be a positive duration such as 24h or 90m"},
		},
		"a token lifetime over 30 days": {
			spec: map[string]any{"tokenTTL": "721h"},
			want: refusal{"spec.tokenTTL", "tokenTTL must be between 1m and 720h (30 days)"},
		},
		"a zero rotation interval": {
			spec: map[string]any{"rotation": map[string]any{"interval": "0s"}},
			want: refusal{"spec.rotation.interval", "rotation.interval must be between 1h and 8760h (a year)"},
		},
		"a negative rotation interval": {
			spec: map[string]any{"rotation": map[string]any{"interval": "-720h"}},
			want: refusal{"spec.rotation.interval", "rotation.interval must be a positive duration such as 720h"},
		},
		"a zero prepublish window": {
			spec: map[string]any{"rotation": map[string]any{"prepublish": "0s"}},
			want: refusal{"spec.rotation.prepublish", "rotation.prepublish must be between 10s and 24h"},
		},
		"a negative prepublish window": {
			spec: map[string]any{"rotation": map[string]any{"prepublish": "-5m"}},
			want: refusal{"spec.rotation.prepublish", "rotation.prepublish must be a positive duration such as 5m"},
		},
		"a propagation timeout under a minute": {
			spec: map[string]any{"rotation": map[string]any{"propagationTimeout": "30s"}},
			want: refusal{"spec.rotation.propagationTimeout", "rotation.propagationTimeout must be between 1m and 24h"},
		},
		"a propagation timeout that is not a duration": {
			spec: map[string]any{"rotation": map[string]any{"propagationTimeout": "forever"}},
			want: refusal{"spec.rotation.propagationTimeout", "rotation.propagationTimeout must be a positive duration such as 15m"},
		},
		"an interval not longer than prepublish": {
			spec: map[string]any{"rotation": map[string]any{"interval": "2h", "prepublish": "2h"}},
			want: refusal{"spec.rotation.interval", "rotation.interval must be longer than rotation.prepublish"},
		},
		"an interval shorter than prepublish": {
			spec: map[string]any{"rotation": map[string]any{"interval": "1h", "prepublish": "90m"}},
			want: refusal{"spec.rotation.interval", "rotation.interval must be longer than rotation.prepublish"},
		},
		"an impossible Secret name": {
			spec: map[string]any{"secretName": "JWT Secret"},
			want: refusal{"spec.secretName", "secretName must be the name of a Secret"},
		},
		"a legacy secret reference without a name": {
			spec: map[string]any{"legacySecretRef": map[string]any{"key": "JWT_SECRET"}},
			want: refusal{"spec.legacySecretRef.name", "Required value"},
		},
		"a revoked key id listed twice": {
			spec: map[string]any{"revokedKeyIDs": []any{"k1", "k1"}},
			want: refusal{"spec.revokedKeyIDs[1]", "Duplicate value"},
		},
	}
	i := 0
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			i++
			sk := validSigningKey(ns, fmt.Sprintf("key-%d", i))
			sk.Object["spec"] = tc.spec
			assertRefused(t, k8s.Create(context.Background(), sk), tc.want)
		})
	}
}

func TestJackUserIDCannotChangeOnceSet(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	u := validJackUser(ns, "bob")
	if err := k8s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}

	// Unset to set is allowed: the user had no id of their own yet.
	if err := unstructured.SetNestedField(u.Object, "staff-42", "spec", "id"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Update(ctx, u); err != nil {
		t.Fatalf("setting spec.id for the first time was refused: %v", err)
	}

	changed := u.DeepCopy()
	_ = unstructured.SetNestedField(changed.Object, "staff-43", "spec", "id")
	assertRefused(t, k8s.Update(ctx, changed), refusal{"spec.id", "id cannot be changed or removed once it is set"})

	removed := u.DeepCopy()
	unstructured.RemoveNestedField(removed.Object, "spec", "id")
	assertRefused(t, k8s.Update(ctx, removed), refusal{"spec.id", "id cannot be changed or removed once it is set"})

	// Other fields still change freely.
	promoted := u.DeepCopy()
	_ = unstructured.SetNestedField(promoted.Object, "manager", "spec", "role")
	if err := k8s.Update(ctx, promoted); err != nil {
		t.Fatalf("changing the role of a user with an id was refused: %v", err)
	}
}

// TestASessionRevocationOnlyGrowsStricter: sidecars update a session's
// TokenRevocation (refreshes, a logout), and the API server refuses every
// edit that would make it accept a token it refused.
func TestASessionRevocationOnlyGrowsStricter(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	now := time.Now().UTC().Truncate(time.Second)
	newRevocation := func(spec authv1alpha1.TokenRevocationSpec) *authv1alpha1.TokenRevocation {
		return &authv1alpha1.TokenRevocation{ObjectMeta: metav1.ObjectMeta{GenerateName: "sid-", Namespace: ns}, Spec: spec}
	}
	for want, spec := range map[string]authv1alpha1.TokenRevocationSpec{
		"names either a tokenID or a sessionID (neither)": {SigningKey: "jack", ExpiresAt: metav1.NewTime(now)},
		"names either a tokenID or a sessionID (both)":    {SigningKey: "jack", TokenID: "t", SessionID: "s", ExpiresAt: metav1.NewTime(now)},
		"belong to a session":                             {SigningKey: "jack", TokenID: "t", Generation: 2, ExpiresAt: metav1.NewTime(now)},
	} {
		err := k8s.Create(ctx, newRevocation(spec))
		if err == nil || !strings.Contains(err.Error(), strings.Split(want, " (")[0]) {
			t.Errorf("%s: err %v, want a refusal saying so", want, err)
		}
	}

	rev := newRevocation(authv1alpha1.TokenRevocationSpec{SigningKey: "jack", SessionID: "s1", UserID: "staff-1", Generation: 1,
		GraceUntil: &metav1.Time{Time: now}, ExpiresAt: metav1.NewTime(now.Add(time.Hour))})
	if err := k8s.Create(ctx, rev); err != nil {
		t.Fatal(err)
	}
	stricter := rev.DeepCopy()
	stricter.Spec.Generation, stricter.Spec.ExpiresAt = 2, metav1.NewTime(now.Add(2*time.Hour))
	stricter.Spec.Ended, stricter.Spec.EndedBecause = true, jack.SessionEndedByLogout
	if err := k8s.Update(ctx, stricter); err != nil {
		t.Fatalf("a refresh and a logout were refused: %v", err)
	}
	for want, change := range map[string]func(*authv1alpha1.TokenRevocationSpec){
		"cannot resume":      func(s *authv1alpha1.TokenRevocationSpec) { s.Ended = false },
		"cannot go back":     func(s *authv1alpha1.TokenRevocationSpec) { s.Generation = 1 },
		"cannot come sooner": func(s *authv1alpha1.TokenRevocationSpec) { s.ExpiresAt = metav1.NewTime(now) },
		"cannot be changed":  func(s *authv1alpha1.TokenRevocationSpec) { s.SessionID = "s2" },
	} {
		edited := stricter.DeepCopy()
		change(&edited.Spec)
		if err := k8s.Update(ctx, edited); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("an edit that %s: err %v, want a refusal saying so", want, err)
		}
	}
}

func TestSigningKeySecretNameCannotChange(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	sk := validSigningKey(ns, "jack")
	sk.Object["spec"] = map[string]any{"secretName": "jack-signing"}
	if err := k8s.Create(ctx, sk); err != nil {
		t.Fatal(err)
	}
	renamed := sk.DeepCopy()
	_ = unstructured.SetNestedField(renamed.Object, "other-secret", "spec", "secretName")
	assertRefused(t, k8s.Update(ctx, renamed), refusal{"spec.secretName", "secretName cannot be changed once the SigningKey exists"})

	longer := sk.DeepCopy()
	_ = unstructured.SetNestedField(longer.Object, "48h", "spec", "tokenTTL")
	if err := k8s.Update(ctx, longer); err != nil {
		t.Fatalf("changing tokenTTL was refused: %v", err)
	}
}

func TestSigningKeyWithAVeryLongNameNeedsASecretName(t *testing.T) {
	ns := newNamespace(t)
	sk := validSigningKey(ns, strings.Repeat("k", 243))
	assertRefused(t, k8s.Create(context.Background(), sk), refusal{"<nil>", "needs a shorter spec.secretName"})
}

// table is the part of a meta.k8s.io Table that kubectl prints.
type table struct {
	ColumnDefinitions []struct {
		Name     string `json:"name"`
		Priority int32  `json:"priority"`
	} `json:"columnDefinitions"`
	Rows []struct {
		Cells []any `json:"cells"`
	} `json:"rows"`
}

func getTable(t *testing.T, path string) table {
	t.Helper()
	httpClient, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.JoinPath(env.Config.Host, env.Config.APIPath, path)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s as a table: %s", u, resp.Status)
	}
	var tbl table
	if err := json.NewDecoder(resp.Body).Decode(&tbl); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// columns renders the table's header the way kubectl get (-o wide) does.
func columns(tbl table, wide bool) []string {
	var names []string
	for _, c := range tbl.ColumnDefinitions {
		if c.Priority == 0 || wide {
			names = append(names, c.Name)
		}
	}
	return names
}

func TestPrinterColumns(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	if err := k8s.Create(ctx, validJackUser(ns, "alice")); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, validSigningKey(ns, "jack")); err != nil {
		t.Fatal(err)
	}
	// A status as the controllers will write it, so every column has a value.
	var user authv1alpha1.JackUser
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "alice"}, &user); err != nil {
		t.Fatal(err)
	}
	user.Status.ID = "staff-7"
	user.Status.Conditions = []metav1.Condition{
		{Type: authv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: authv1alpha1.ReasonUserReady, LastTransitionTime: metav1.Now(), Message: "alice can log in"},
		{Type: authv1alpha1.ConditionPropagated, Status: metav1.ConditionFalse, Reason: authv1alpha1.ReasonAwaitingSidecars, LastTransitionTime: metav1.Now(), Message: "z"},
	}
	if err := k8s.Status().Update(ctx, &user); err != nil {
		t.Fatal(err)
	}
	var key authv1alpha1.SigningKey
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "jack"}, &key); err != nil {
		t.Fatal(err)
	}
	key.Status.ActiveKeyID = "k-20261127-01"
	key.Status.Propagation = "1/2"
	key.Status.Conditions = []metav1.Condition{
		{Type: authv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: authv1alpha1.ReasonSecretConflict, LastTransitionTime: metav1.Now(), Message: "x"},
		{Type: authv1alpha1.ConditionPropagated, Status: metav1.ConditionFalse, Reason: authv1alpha1.ReasonSidecarsLagging, LastTransitionTime: metav1.Now(), Message: "y"},
	}
	if err := k8s.Status().Update(ctx, &key); err != nil {
		t.Fatal(err)
	}

	users := getTable(t, "/apis/auth.jack.io/v1alpha1/namespaces/"+ns+"/jackusers")
	assertStrings(t, "jackuser columns", columns(users, false), []string{"Name", "Email", "Role", "ID", "Ready", "Propagated", "Age"})
	assertStrings(t, "jackuser wide columns", columns(users, true), []string{"Name", "Email", "Role", "ID", "Ready", "Propagated", "Age", "Disabled"})
	if len(users.Rows) != 1 {
		t.Fatalf("got %d jackuser rows, want 1", len(users.Rows))
	}
	assertStrings(t, "jackuser row", cellStrings(users.Rows[0].Cells[:6]), []string{"alice", "Alice@Example.com", "staff", "staff-7", "True", "False"})
	if disabled := fmt.Sprint(users.Rows[0].Cells[7]); disabled != "false" {
		t.Errorf("Disabled column = %s, want false", disabled)
	}

	keys := getTable(t, "/apis/auth.jack.io/v1alpha1/namespaces/"+ns+"/signingkeys")
	assertStrings(t, "signingkey columns", columns(keys, false), []string{"Name", "Algorithm", "Active Key", "Last Rotation", "Next Rotation", "Ready", "Sidecars", "Propagated", "Age"})
	if len(keys.Rows) != 1 {
		t.Fatalf("got %d signingkey rows, want 1", len(keys.Rows))
	}
	row := keys.Rows[0].Cells
	assertStrings(t, "signingkey row", cellStrings([]any{row[0], row[1], row[2], row[5], row[6], row[7]}), []string{"jack", "HS256", "k-20261127-01", "False", "1/2", "False"})
}

func cellStrings(cells []any) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = fmt.Sprint(c)
	}
	return out
}

func assertStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func TestStatusIsASubresource(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	if err := k8s.Create(ctx, validJackUser(ns, "carol")); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: ns, Name: "carol"}
	var user authv1alpha1.JackUser
	if err := k8s.Get(ctx, key, &user); err != nil {
		t.Fatal(err)
	}
	generation := user.Generation

	// Writing status through the status subresource keeps it and leaves the
	// spec and generation alone.
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	user.Status.ID = "staff-9"
	user.Status.SessionsValidAfter = &now
	user.Status.ObservedGeneration = generation
	user.Spec.Role = jack.RoleAdmin // must be ignored
	if err := k8s.Status().Update(ctx, &user); err != nil {
		t.Fatalf("status update refused: %v", err)
	}
	var got authv1alpha1.JackUser
	if err := k8s.Get(ctx, key, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.ID != "staff-9" || got.Status.SessionsValidAfter == nil || !got.Status.SessionsValidAfter.Equal(&now) {
		t.Errorf("status after a status update = %+v, want id staff-9 and sessionsValidAfter %v", got.Status, now)
	}
	if got.Spec.Role != jack.RoleStaff {
		t.Errorf("a status update changed spec.role to %q", got.Spec.Role)
	}
	if got.Generation != generation {
		t.Errorf("a status update moved generation from %d to %d", generation, got.Generation)
	}

	// Writing the main resource ignores status, so users can't forge it.
	got.Status.ID = "admin-1"
	got.Spec.Name = "Carol C."
	if err := k8s.Update(ctx, &got); err != nil {
		t.Fatal(err)
	}
	var after authv1alpha1.JackUser
	if err := k8s.Get(ctx, key, &after); err != nil {
		t.Fatal(err)
	}
	if after.Status.ID != "staff-9" {
		t.Errorf("an update of the main resource changed status.id to %q", after.Status.ID)
	}
	if after.Generation != generation+1 {
		t.Errorf("a spec change moved generation from %d to %d, want %d", generation, after.Generation, generation+1)
	}
}
