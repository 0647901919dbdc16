package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Code is an error code of the contract. Clients switch on it.
type Code string

// The codes of Jack's contract (DESIGN.md), then the sidecar's own.
const (
	CodeInvalidCredentials Code = "INVALID_CREDENTIALS"
	CodeTokenExpired       Code = "TOKEN_EXPIRED"
	CodeTokenInvalid       Code = "TOKEN_INVALID"
	CodeTokenMissing       Code = "TOKEN_MISSING"
	CodeForbidden          Code = "FORBIDDEN"

	CodeBadRequest           Code = "BAD_REQUEST"
	CodeValidation           Code = "VALIDATION_ERROR"
	CodePayloadTooLarge      Code = "PAYLOAD_TOO_LARGE"
	CodeRequestTimeout       Code = "REQUEST_TIMEOUT"
	CodeUnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"
	CodeMethodNotAllowed     Code = "METHOD_NOT_ALLOWED"
	CodeNotFound             Code = "NOT_FOUND"
	CodeTooManyRequests      Code = "TOO_MANY_REQUESTS"
	CodeNotReady             Code = "SERVICE_UNAVAILABLE"
	CodeUpstreamUnavailable  Code = "UPSTREAM_UNAVAILABLE"
	CodeInternal             Code = "INTERNAL_ERROR"

	// CodeAmbiguousRequest: the request names its method or path more than
	// once (mixed or repeated forward-auth headers, a method override), so
	// what the sidecar would decide on may not be what Jack serves.
	CodeAmbiguousRequest Code = "AMBIGUOUS_REQUEST"
	// CodeAmbiguousCredentials: more than one credential (two Authorization
	// headers, a token in the URL, an API key header beside a bearer token).
	CodeAmbiguousCredentials Code = "AMBIGUOUS_CREDENTIALS"
	// CodeForgedIdentity: a request to /auth carries a header that only the
	// sidecar may set, which the gateway would pass on to Jack.
	CodeForgedIdentity Code = "FORGED_IDENTITY"
	// CodeMisdirectedRequest: /auth was asked about the auth API, which the
	// gateway must route to the sidecar itself.
	CodeMisdirectedRequest Code = "MISDIRECTED_REQUEST"
	// CodeUntrustedProxy: /auth was called by an address outside
	// --trusted-proxies.
	CodeUntrustedProxy Code = "UNTRUSTED_PROXY"
	// CodeLogoutUnconfirmed: a logout holds at the replica that answered,
	// but not every replica confirmed within --logout-confirm-timeout that
	// it refuses the token. Retrying the logout waits again.
	CodeLogoutUnconfirmed Code = "LOGOUT_UNCONFIRMED"
	// CodeLoginBusy: every password check slot stayed busy while the
	// login waited (--password-check-wait); one more argon2id check could
	// take the sidecar past its memory limit. Retry after Retry-After.
	CodeLoginBusy Code = "LOGIN_BUSY"
	// CodeAPIKeyNotAllowed: an API key was presented to login, refresh or
	// logout. A key has no session: it is created, rotated, disabled and
	// deleted with kubectl (JackAPIKey).
	CodeAPIKeyNotAllowed Code = "API_KEY_NOT_ALLOWED"
)

// statuses maps each code to its HTTP status.
var statuses = map[Code]int{
	CodeInvalidCredentials:   http.StatusUnauthorized,
	CodeTokenExpired:         http.StatusUnauthorized,
	CodeTokenInvalid:         http.StatusUnauthorized,
	CodeTokenMissing:         http.StatusUnauthorized,
	CodeForbidden:            http.StatusForbidden,
	CodeBadRequest:           http.StatusBadRequest,
	CodeValidation:           http.StatusBadRequest,
	CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	CodeRequestTimeout:       http.StatusRequestTimeout,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	CodeNotFound:             http.StatusNotFound,
	CodeTooManyRequests:      http.StatusTooManyRequests,
	CodeNotReady:             http.StatusServiceUnavailable,
	CodeUpstreamUnavailable:  http.StatusBadGateway,
	CodeInternal:             http.StatusInternalServerError,
	CodeAmbiguousRequest:     http.StatusBadRequest,
	CodeAmbiguousCredentials: http.StatusBadRequest,
	CodeForgedIdentity:       http.StatusBadRequest,
	CodeMisdirectedRequest:   http.StatusMisdirectedRequest,
	CodeUntrustedProxy:       http.StatusForbidden,
	CodeLogoutUnconfirmed:    http.StatusServiceUnavailable,
	CodeLoginBusy:            http.StatusServiceUnavailable,
	CodeAPIKeyNotAllowed:     http.StatusForbidden,
}

// Status is the HTTP status of a code.
func (c Code) Status() int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// MessageTokenExpired is the contract's exact message for TOKEN_EXPIRED.
const MessageTokenExpired = "Your session has expired. Please login again."

// Error is a failure to report in the error envelope.
type Error struct {
	Code    Code
	Message string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter time.Duration
	// Allow, when set, is sent as the Allow header (405).
	Allow string

	// encoded is the envelope, kept once written: the errors that answer
	// bad tokens are package variables, and a flood of bad tokens must not
	// cost a JSON encoding each.
	encoded atomic.Pointer[[]byte]
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds an Error.
func Errorf(code Code, message string) *Error { return &Error{Code: code, Message: message} }

type errorEnvelope struct {
	Success bool      `json:"success"`
	Error   errorBody `json:"error"`
}

type errorBody struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

type dataEnvelope struct {
	Success bool `json:"success"`
	Data    any  `json:"data"`
}

// Header values shared by every answer. net/http never modifies a header's
// value slice, so one slice serves every response.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
	noSniff         = []string{"nosniff"}
	bearerChallenge = []string{`Bearer realm="jack"`}
)

// WriteError sends e in the error envelope with its status.
func WriteError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	if e.Code == CodeTokenMissing || e.Code == CodeTokenInvalid || e.Code == CodeTokenExpired {
		h["Www-Authenticate"] = bearerChallenge
	}
	body := e.encoded.Load()
	if body == nil {
		b, _ := json.Marshal(errorEnvelope{Error: errorBody{Code: e.Code, Message: e.Message}})
		b = append(b, '\n')
		e.encoded.Store(&b)
		body = &b
	}
	writeHeaders(h)
	w.WriteHeader(e.Code.Status())
	_, _ = w.Write(*body)
}

// WriteData sends data in the success envelope.
func WriteData(w http.ResponseWriter, status int, data any) {
	writeHeaders(w.Header())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(dataEnvelope{Success: true, Data: data})
}

func writeHeaders(h http.Header) {
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
}
