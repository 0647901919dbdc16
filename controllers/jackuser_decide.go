package controllers

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
	"github.com/jack-io/jack-operator/internal/password"
	"github.com/jack-io/jack-operator/internal/userdir"
)

// userPlan is what the directory will say about one JackUser, decided
// before any expensive hashing. hashJob is set when the password must be
// verified against the previous hash or hashed anew.
type userPlan struct {
	user  *authv1alpha1.JackUser
	id    string
	entry userdir.User
	// excluded users are not written to the directory (duplicates, or no
	// room left); reason and message say why.
	excluded bool
	// reason and message explain a user who cannot log in; "" when they can.
	reason, message string
	// sessionsEnded says why sessionsValidAfter moved in this reconcile.
	sessionsEnded string
	// endSessionsRequest is the auth.jack.io/end-sessions value acted on in
	// this reconcile, "" when none.
	endSessionsRequest string
	job                *hashJob
}

// hashJob is the expensive part of a plan: run outside the decision, in parallel.
type hashJob struct {
	plaintext string
	// previousHash is verified first: if the password did not change, the
	// hash is kept (or only upgraded) and no session ends.
	previousHash string
	params       password.Params
	// results
	hash    string
	changed bool
	err     error
}

func (j *hashJob) run() {
	if j.previousHash != "" {
		if same, err := password.Verify(j.previousHash, j.plaintext); err == nil && same {
			j.hash = j.previousHash
			if password.NeedsRehash(j.previousHash, j.params) {
				j.hash, j.err = password.Hash(j.plaintext, j.params)
			}
			return
		}
	}
	j.changed = j.previousHash != ""
	j.hash, j.err = password.Hash(j.plaintext, j.params)
}

// passwordVersion names the state of a password Secret without revealing
// anything about the password: it changes whenever the Secret might have.
// It needs only the Secret's metadata.
func passwordVersion(s *corev1.Secret, key string) string {
	sum := sha256.Sum256([]byte(string(s.UID) + "/" + s.ResourceVersion + "/" + key))
	return hex.EncodeToString(sum[:8])
}

// hashIsCurrent reports whether a directory entry holds a hash of the
// password at version, made with params.
func hashIsCurrent(prev *userdir.User, version string, params password.Params) bool {
	return prev != nil && prev.PasswordVersion == version && prev.PasswordHash != "" && !password.NeedsRehash(prev.PasswordHash, params)
}

// generatedID is a user's id when spec.id is not set: their role when first
// seen and twelve digits derived from their UID, so a reconcile interrupted
// before it recorded the id derives the same one again.
func generatedID(u *authv1alpha1.JackUser) string {
	sum := sha256.Sum256([]byte(u.UID))
	return fmt.Sprintf("%s-%012d", u.Spec.Role, binary.BigEndian.Uint64(sum[:8])%1_000_000_000_000)
}

// planUser decides one user's directory entry from the spec, the password
// Secret (nil when missing) and the previous entry (nil for a new user).
// unchanged says the Secret is its metadata only, of a version whose
// password was checked and whose current hash prev holds (hashIsCurrent).
// Hashing is left to the returned plan's job.
func planUser(u *authv1alpha1.JackUser, secret *corev1.Secret, unchanged bool, prev *userdir.User, id string, now time.Time, params password.Params, minLength int) userPlan {
	p := userPlan{user: u, id: id, entry: userdir.User{
		ID:       id,
		Email:    u.Spec.Email,
		Name:     u.Spec.Name,
		Role:     u.Spec.Role,
		Disabled: u.Spec.Disabled,
	}}
	if prev != nil {
		p.entry.SessionsValidAfter = prev.SessionsValidAfter
	} else if u.Status.SessionsValidAfter != nil {
		// The directory was lost; the status remembers when sessions ended.
		p.entry.SessionsValidAfter = u.Status.SessionsValidAfter.Time
	}
	if u.Spec.Disabled && prev != nil && !prev.Disabled {
		p.entry.SessionsValidAfter = now
		p.sessionsEnded = "the user was disabled"
	}
	if v := u.Annotations[jack.AnnotationEndSessions]; v != "" && v != u.Status.LastEndSessionsRequest {
		p.entry.SessionsValidAfter = now
		p.sessionsEnded = fmt.Sprintf("requested with %s=%s", jack.AnnotationEndSessions, v)
		p.endSessionsRequest = v
	}

	ref := u.Spec.PasswordSecretRef
	var plaintext []byte
	if secret != nil {
		plaintext = secret.Data[ref.Key]
	}
	switch {
	case secret == nil:
		p.reason, p.message = authv1alpha1.ReasonPasswordMissing, fmt.Sprintf("Secret %s does not exist; the user cannot log in until it does", ref.Name)
	case plaintext == nil && !unchanged:
		p.reason, p.message = authv1alpha1.ReasonPasswordMissing, fmt.Sprintf("Secret %s has no key %q; the user cannot log in until it does", ref.Name, ref.Key)
	}
	if p.reason != "" {
		// Keep no hash: a login never succeeds with a password that is gone.
		// Sessions stay: the password was not changed, only removed.
		return p
	}

	version := passwordVersion(secret, ref.Key)
	p.entry.PasswordVersion = version
	if unchanged && hashIsCurrent(prev, version, params) {
		p.entry.PasswordHash = prev.PasswordHash
		return p
	}
	if err := password.CheckStrength(string(plaintext), minLength); err != nil {
		p.reason, p.message = authv1alpha1.ReasonPasswordTooWeak, fmt.Sprintf("Secret %s: %v; the user cannot log in until it is changed", ref.Name, err)
		if prev != nil && prev.PasswordHash != "" {
			// A weak new password still supersedes the old one.
			p.entry.SessionsValidAfter, p.sessionsEnded = now, "the password changed"
		}
		return p
	}
	if prev != nil && prev.PasswordVersion == version && prev.PasswordHash != "" && !password.NeedsRehash(prev.PasswordHash, params) {
		p.entry.PasswordHash = prev.PasswordHash
		return p
	}
	job := &hashJob{plaintext: string(plaintext), params: params}
	if prev != nil {
		job.previousHash = prev.PasswordHash
	}
	p.job = job
	return p
}

// finish applies a plan's completed hash job.
func (p *userPlan) finish(now time.Time) {
	if p.job == nil {
		return
	}
	j := p.job
	p.job = nil
	if j.err != nil {
		p.reason, p.message = authv1alpha1.ReasonPasswordMissing, fmt.Sprintf("the password could not be hashed: %v", j.err)
		return
	}
	p.entry.PasswordHash = j.hash
	if j.changed {
		p.entry.SessionsValidAfter, p.sessionsEnded = now, "the password changed"
	}
}

// readyCondition is the Ready condition a plan leads to.
func (p *userPlan) readyCondition() (ready bool, reason, message string) {
	switch {
	case p.reason != "":
		return false, p.reason, p.message
	case p.entry.Disabled:
		return false, authv1alpha1.ReasonUserDisabled, "the user is disabled (spec.disabled); set it to false to let them log in"
	default:
		return true, authv1alpha1.ReasonUserReady, fmt.Sprintf("%s can log in as %s", p.entry.Email, p.entry.Role)
	}
}
