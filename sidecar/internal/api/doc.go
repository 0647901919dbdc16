// Package api writes the responses of Jack's HTTP contract: the success
// envelope {"success":true,"data":...} and the error envelope
// {"success":false,"error":{"code":...,"message":...}} with the code and status
// every failure maps to. Every response the sidecar makes itself goes through
// it, so a client always gets the same shape.
//
// Used by the sidecar's server and connlimit, which answer in the envelope.
package api
