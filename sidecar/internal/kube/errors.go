package kube

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// StatusError is an answer of the API server that is not a success: an
// HTTP status of 300 or more, or an ERROR event in a watch. Code, Reason
// and Message come from the metav1.Status the server sends.
type StatusError struct {
	// Verb and Path say what was asked: "list", "watch", "get", "create" or
	// "patch", and the API path without its query.
	Verb, Path string
	// Code is the HTTP status, like 409.
	Code int
	// Reason is the status reason, like "AlreadyExists", "Forbidden",
	// "NotFound" or "Expired"; empty when the answer carried no Status.
	Reason string
	// Message is the server's explanation, like `jackusers.auth.jack.io
	// "alice" already exists`.
	Message string

	// tooLargeResourceVersion: the server has not yet seen the version asked
	// for (an API server behind the others in an HA cluster).
	tooLargeResourceVersion bool
}

func (e *StatusError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = http.StatusText(e.Code)
	}
	return fmt.Sprintf("%s %s: %s (%d %s)", e.Verb, e.Path, e.Message, e.Code, reason)
}

// TransportError is a failure to talk to the API server at all: it could
// not be reached, TLS verification failed, or the connection broke while
// the answer was read. Err says how.
type TransportError struct {
	Verb, Path string
	Err        error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s %s: the API server cannot be reached: %v", e.Verb, e.Path, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// IsAlreadyExists reports whether err says the object to create exists.
func IsAlreadyExists(err error) bool { return hasReason(err, "AlreadyExists", http.StatusConflict) }

// IsConflict reports whether err says the object changed since the
// version a write named (a patch's metadata.resourceVersion): reread it,
// and write again.
func IsConflict(err error) bool { return hasReason(err, "Conflict", http.StatusConflict) }

// IsForbidden reports whether err says RBAC (or admission) refused the
// request to the identity of the token.
func IsForbidden(err error) bool { return hasReason(err, "Forbidden", http.StatusForbidden) }

// IsNotFound reports whether err says the object, the namespace or the
// resource itself (a CRD not installed) does not exist.
func IsNotFound(err error) bool { return hasReason(err, "NotFound", http.StatusNotFound) }

// IsUnauthorized reports whether err says the token was not accepted:
// expired, revoked, or of a deleted service account.
func IsUnauthorized(err error) bool {
	return hasReason(err, "Unauthorized", http.StatusUnauthorized)
}

// IsExpired reports whether err says the resourceVersion a list or watch
// started from is older than the history the server keeps (410 Gone, or an
// ERROR event with reason Expired): the collection must be listed again.
func IsExpired(err error) bool {
	var se *StatusError
	return errors.As(err, &se) &&
		(se.Reason == "Expired" || se.Reason == "Gone" || se.Code == http.StatusGone)
}

// IsTransport reports whether err is a *TransportError: the request did
// not get an answer.
func IsTransport(err error) bool {
	var te *TransportError
	return errors.As(err, &te)
}

// hasReason matches a status reason, or the HTTP code when the answer
// carried no Status (a proxy's page, say).
func hasReason(err error, reason string, code int) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	return se.Reason == reason || (se.Reason == "" && se.Code == code)
}

func isTooLargeResourceVersion(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.tooLargeResourceVersion
}

// status is the part of metav1.Status that errors need.
type status struct {
	Kind    string `json:"kind"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Details *struct {
		Causes []struct {
			Type string `json:"reason"`
		} `json:"causes"`
	} `json:"details"`
}

func (s *status) error(verb, path string) *StatusError {
	e := &StatusError{Verb: verb, Path: path, Code: s.Code, Reason: s.Reason, Message: s.Message}
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			if c.Type == "ResourceVersionTooLarge" {
				e.tooLargeResourceVersion = true
			}
		}
	}
	// Older servers say so only in the message of a 504.
	if e.Code == http.StatusGatewayTimeout && strings.Contains(e.Message, "Too large resource version") {
		e.tooLargeResourceVersion = true
	}
	if e.Message == "" {
		e.Message = "the API server gave no reason"
	}
	return e
}

// maxErrorBody bounds what is read of an error answer: a Status is small,
// and a proxy's error page must not cost memory.
const maxErrorBody = 64 << 10

// responseError turns an answer that is not a success into a *StatusError,
// from its Status when it has one. The body is never quoted otherwise: it
// may be anything.
func responseError(verb, path string, resp *http.Response) *StatusError {
	var s status
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if json.Unmarshal(b, &s) != nil || s.Kind != "Status" {
		s = status{Message: "the API server answered " + resp.Status}
	}
	// The HTTP status is authoritative: a Status may omit its code.
	s.Code = resp.StatusCode
	return s.error(verb, path)
}
