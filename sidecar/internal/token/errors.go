package token

import "errors"

// The two verdicts a caller acts on. Every error Verify returns wraps exactly
// one of them; test with errors.Is.
var (
	// ErrExpired is for a token that is genuine and would be accepted, but
	// whose exp (plus leeway) has passed. It is never returned for a token
	// whose signature does not verify, so a forger learns nothing from it.
	// The sidecar answers it with TOKEN_EXPIRED.
	ErrExpired = errors.New("token expired")
	// ErrInvalid is for every other refusal: malformed, forged, tampered,
	// signed by a key the ring does not hold, or with claims this ring does
	// not accept. The sidecar answers it with TOKEN_INVALID.
	ErrInvalid = errors.New("token invalid")
)

// Reason labels, for a metric. The set is fixed so that a label can never
// carry anything from the token.
const (
	ReasonTooLong           = "too_long"
	ReasonMalformed         = "malformed"
	ReasonMalformedHeader   = "malformed_header"
	ReasonAlgorithmMismatch = "algorithm_mismatch"
	ReasonUnknownKey        = "unknown_kid"
	ReasonKeyRetired        = "key_retired"
	ReasonMissingKey        = "missing_kid"
	ReasonBadSignature      = "bad_signature"
	ReasonMalformedClaims   = "malformed_claims"
	ReasonMissingClaim      = "missing_claim"
	ReasonNotYetValid       = "not_yet_valid"
	ReasonIssuedInFuture    = "issued_in_future"
	ReasonWrongIssuer       = "wrong_issuer"
	ReasonWrongAudience     = "wrong_audience"
	ReasonExpired           = "expired"
	// ReasonOther is what Reason says of an error this package did not make.
	ReasonOther = "other"
)

// Reasons lists every label Reason returns for an error of this package, so
// that a metric can be initialised with all of them.
var Reasons = []string{
	ReasonTooLong, ReasonMalformed, ReasonMalformedHeader, ReasonAlgorithmMismatch,
	ReasonUnknownKey, ReasonKeyRetired, ReasonMissingKey, ReasonBadSignature,
	ReasonMalformedClaims, ReasonMissingClaim, ReasonNotYetValid, ReasonIssuedInFuture,
	ReasonWrongIssuer, ReasonWrongAudience, ReasonExpired,
}

// Reason is the fixed, low-cardinality label of a Verify error: one of
// Reasons, ReasonOther for an error from elsewhere, or "" for nil.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return ReasonOther
}

// refusal is a Verify error. Every refusal is a package-level value built
// once, so that refusing a flood of bad tokens allocates nothing, and so that
// no refusal can quote the token: its text is fixed at compile time.
type refusal struct {
	verdict error
	reason  string
	msg     string
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.verdict }

func invalid(reason, why string) *refusal {
	return &refusal{verdict: ErrInvalid, reason: reason, msg: "token invalid: " + why}
}

var (
	errTooLong        = invalid(ReasonTooLong, "longer than MaxSize")
	errSegments       = invalid(ReasonMalformed, "not three dot-separated segments")
	errBase64         = invalid(ReasonMalformed, "segment is not canonical unpadded base64url")
	errHeaderJSON     = invalid(ReasonMalformedHeader, "header is not a JSON object")
	errHeaderMember   = invalid(ReasonMalformedHeader, "header member has the wrong type or appears twice")
	errCritical       = invalid(ReasonMalformedHeader, "header has crit; no extension is understood")
	errAlgorithm      = invalid(ReasonAlgorithmMismatch, "algorithm mismatch")
	errUnknownKey     = invalid(ReasonUnknownKey, "unknown kid")
	errKeyRetired     = invalid(ReasonKeyRetired, "kid names a key that no longer verifies")
	errMissingKey     = invalid(ReasonMissingKey, "no kid and no legacy key")
	errSignature      = invalid(ReasonBadSignature, "bad signature")
	errClaimsJSON     = invalid(ReasonMalformedClaims, "claims are not a JSON object")
	errClaimMember    = invalid(ReasonMalformedClaims, "claim has the wrong type or appears twice")
	errMissingExpiry  = invalid(ReasonMissingClaim, "missing exp")
	errMissingSubject = invalid(ReasonMissingClaim, "missing sub")
	errMissingID      = invalid(ReasonMissingClaim, "missing jti")
	errUnstorableID   = invalid(ReasonMalformedClaims, "jti is not 1 to 128 printable ASCII characters, which a logout could not record")
	errNotYetValid    = invalid(ReasonNotYetValid, "nbf is in the future")
	errIssuedInFuture = invalid(ReasonIssuedInFuture, "iat is in the future")
	errWrongIssuer    = invalid(ReasonWrongIssuer, "wrong issuer")
	errWrongAudience  = invalid(ReasonWrongAudience, "wrong audience")
	errExpired        = &refusal{verdict: ErrExpired, reason: ReasonExpired, msg: "token expired"}
)

// The session claims' refusals. A token with none of them is one issued
// before sessions existed, and stays good; one with some must have them
// all, and consistent, since the session's end is reckoned from auth_time.
var (
	errNoSession         = invalid(ReasonMalformedClaims, "auth_time or sgen without sid")
	errUnstorableSession = invalid(ReasonMalformedClaims, "sid is not 1 to 128 printable ASCII characters, which a logout could not record")
	errSessionTimes      = invalid(ReasonMalformedClaims, "sid without auth_time and iat, or auth_time after iat")
)
