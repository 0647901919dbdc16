package app

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/version"
	"github.com/jack-io/jack-operator/sidecar/internal/server"
)

// stateHandler answers jack.SidecarStatePath with what the sidecar holds
// and acts on. The operator polls it every second per pod during a
// rotation, so it only reads what the loads and watches prepared: no file
// is read, no digest computed, no lock held beyond a copy of a status.
func stateHandler(signingKey string, src *files, live *liveState) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		keys, _ := src.keys.Load()
		users, _ := src.users.Load()
		var signing server.Signing
		var apiKeys server.APIKeys
		revocationsRV := ""
		if live != nil {
			signing, apiKeys = live.signing, live.apiKeys
			if st := live.revocationWatch.Status(); st.Synced {
				revocationsRV = st.ResourceVersion
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		st := stateOf(signingKey, keys, users, signing, revocationsRV)
		st.APIKeysLastUsed = apiKeysLastUsed(apiKeys)
		_ = json.NewEncoder(w).Encode(st)
	}
}

// stateOf is what /state reports: the sidecar's version, the loaded files as described when they
// loaded (server.Keys.State, server.Users.State: ids, states and digests,
// never key material or a password hash), the key that signs now, and what
// the watches last saw. keys and users are nil before their first load;
// signing is nil without API access.
func stateOf(signingKey string, keys *server.Keys, users *server.Users, signing server.Signing, revocationsRV string) jack.SidecarState {
	st := jack.SidecarState{Version: version.Version, SigningKey: signingKey, RevocationsResourceVersion: revocationsRV}
	if keys != nil {
		st.Ring = keys.State
		if k := keys.Signer(signing); k != nil {
			st.SigningKeyID = k.ID
		}
	}
	if users != nil {
		st.Directory = users.State
	}
	if signing != nil {
		st.AnnouncedKeyID, _, _ = signing.Announced()
	}
	return st
}

// apiKeysLastUsed is, per status.id, the start of the last hour in which
// this sidecar accepted the key: what the operator gathers into the
// JackAPIKey's status.lastUsed. Keys never used here are left out; nil
// without API access.
func apiKeysLastUsed(v server.APIKeys) map[string]time.Time {
	if v == nil {
		return nil
	}
	ix, _ := v.Index()
	var out map[string]time.Time
	for _, k := range ix.Keys() {
		if t := k.Usage.LastUsed(); !t.IsZero() {
			if out == nil {
				out = map[string]time.Time{}
			}
			out[k.ID] = t
		}
	}
	return out
}
