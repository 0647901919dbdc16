package app

import (
	"encoding/json"
	"net/http"

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
		revocationsRV := ""
		if live != nil {
			signing = live.signing
			if st := live.revocationWatch.Status(); st.Synced {
				revocationsRV = st.ResourceVersion
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(stateOf(signingKey, keys, users, signing, revocationsRV))
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
