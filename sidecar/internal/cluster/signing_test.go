package cluster

import (
	"encoding/json"
	"slices"
	"testing"
)

func signingKey(t *testing.T, name, doc string) SigningKey {
	t.Helper()
	var k SigningKey
	if err := json.Unmarshal([]byte(doc), &k); err != nil {
		t.Fatal(err)
	}
	k.Metadata.Name = name
	return k
}

func TestTheSigningViewFollowsItsSigningKey(t *testing.T) {
	v := NewSigning("shop", "jack")
	if active, revoked, known := v.Announced(); known || active != "" || revoked != nil {
		t.Fatalf("an empty view announces %q, revokes %v, known %v", active, revoked, known)
	}
	if lw := v.ListWatch(); lw.FieldSelector != "metadata.name=jack" || lw.Path != "/apis/auth.jack.io/v1alpha1/namespaces/shop/signingkeys" {
		t.Errorf("the view watches %+v; want only the SigningKey jack of namespace shop", lw)
	}

	v.Replace([]SigningKey{signingKey(t, "jack", `{"status":{"activeKeyID":"a"}}`)})
	if active, revoked, known := v.Announced(); !known || active != "a" || len(revoked) != 0 {
		t.Fatalf("after the list: %q %v %v", active, revoked, known)
	}

	v.Upsert(signingKey(t, "jack", `{"spec":{"revokedKeyIDs":["x"]},"status":{"activeKeyID":"b"}}`))
	active, revoked, _ := v.Announced()
	if active != "b" || !slices.Equal(revoked, []string{"x"}) {
		t.Fatalf("after the promotion and a revocation: %q %v", active, revoked)
	}
	// Another SigningKey (the field selector keeps them out, but a view
	// must not trust that) changes nothing.
	v.Upsert(signingKey(t, "partner", `{"status":{"activeKeyID":"p"}}`))
	v.Delete(signingKey(t, "partner", `{}`))
	if active, _, _ := v.Announced(); active != "b" {
		t.Errorf("another SigningKey's event changed the view to %q", active)
	}

	v.Delete(signingKey(t, "jack", `{}`))
	if active, revoked, known := v.Announced(); !known || active != "" || revoked != nil {
		t.Errorf("after the delete: %q %v %v; want nothing announced, still known", active, revoked, known)
	}
	v.Upsert(signingKey(t, "jack", `{"status":{"activeKeyID":"c"}}`))
	v.Replace(nil)
	if active, _, known := v.Announced(); !known || active != "" {
		t.Errorf("after a list without it: %q %v; want nothing announced", active, known)
	}
}
