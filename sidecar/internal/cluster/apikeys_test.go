package cluster

import (
	"encoding/json"
	"testing"

	"github.com/jack-io/jack-operator/internal/apikey"
)

func apiKeyObject(t *testing.T, name, id, role string, digests ...string) JackAPIKey {
	t.Helper()
	var k JackAPIKey
	vals := ""
	for i, d := range digests {
		if i > 0 {
			vals += ","
		}
		vals += `{"digest":"` + d + `","state":"Current"}`
	}
	doc := `{"metadata":{"name":"` + name + `"},"spec":{"role":"` + role + `"},"status":{"id":"` + id + `","values":[` + vals + `]}}`
	if err := json.Unmarshal([]byte(doc), &k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestTheAPIKeysViewIndexesDigestsAndKeepsUsageAcrossChanges(t *testing.T) {
	v := NewAPIKeys("ns")
	if _, known := v.Index(); known {
		t.Fatal("known before the first list")
	}
	a, b := "jack_a", "jack_b"
	da, db := apikey.DigestArray(a), apikey.DigestArray(b)
	v.Replace([]JackAPIKey{apiKeyObject(t, "one", "ak-1", "staff", apikey.Digest(a)), apiKeyObject(t, "unissued", "", "staff")})
	ix, known := v.Index()
	if _, ok := ix.Lookup(da); !known || !ok || ix.Len() != 1 {
		t.Fatalf("after the list: known %v, found %v, %d keys", known, ok, ix.Len())
	}
	found, _ := ix.Lookup(da)
	found.Key.Usage.Used(found.Key.Expires) // any time: marks a use
	v.Upsert(apiKeyObject(t, "one", "ak-1", "admin", apikey.Digest(a)))
	ix, _ = v.Index()
	changed, _ := ix.Lookup(da)
	if changed.Key.Role != "admin" || changed.Key.Usage != found.Key.Usage {
		t.Fatal("a change of the role is not seen, or lost the key's usage")
	}
	// Two keys claiming one digest: neither gets it.
	v.Upsert(apiKeyObject(t, "two", "ak-2", "admin", apikey.Digest(a), apikey.Digest(b)))
	ix, _ = v.Index()
	if _, ok := ix.Lookup(da); ok {
		t.Fatal("a digest two keys claim authenticates")
	}
	if got, ok := ix.Lookup(db); !ok || got.Key.ID != "ak-2" {
		t.Fatal("the other digest of the second key is lost")
	}
	deleting := apiKeyObject(t, "two", "ak-2", "admin", apikey.Digest(b))
	_ = json.Unmarshal([]byte(`{"metadata":{"name":"two","deletionTimestamp":"2026-05-01T00:00:00Z"}}`), &deleting)
	v.Upsert(deleting)
	ix, _ = v.Index()
	if _, ok := ix.Lookup(db); ok {
		t.Fatal("a key being deleted authenticates")
	}
	if _, ok := ix.Lookup(da); !ok {
		t.Fatal("the first key's digest did not come back once it was no longer claimed twice")
	}
	v.Delete(apiKeyObject(t, "one", "ak-1", "admin"))
	if ix, _ = v.Index(); ix.Len() != 0 {
		t.Fatalf("%d keys after the delete", ix.Len())
	}
}
