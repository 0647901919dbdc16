package gateways

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// request is what a client sends, byte for byte: the request-target as
// written (no cleaning, no escaping), header names as spelt, repeated
// headers kept in order.
type request struct {
	Method string
	Target string
	Header []field
	Body   string
	// From is the client's source address on loopback (127.0.0.0/8); the
	// stack's own client address when empty.
	From string
}

type field struct{ Name, Value string }

// h builds header fields from name, value pairs.
func h(kv ...string) []field {
	var out []field
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, field{kv[i], kv[i+1]})
	}
	return out
}

func bearerOf(tok string) field { return field{"Authorization", "Bearer " + tok} }

// envelope is Jack's answer shape.
type envelope struct {
	Success *bool `json:"success"`
	Data    struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expiresAt"`
		Message   string `json:"message"`
		User      struct {
			ID, Name, Email, Role string
		} `json:"user"`
	} `json:"data"`
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// answer is what the client got, with what Jack and the sidecar's port
// received for the request.
type answer struct {
	Status int
	Header http.Header
	Body   string
	// Envelope is the body read as the JSON envelope; IsEnvelope says it is
	// one (it has "success").
	Envelope   envelope
	IsEnvelope bool
	// Jack is what Jack received for this request (nothing when refused);
	// Sidecar what the sidecar's port received (the questions at /auth, or
	// the auth API request itself), with its answers.
	Jack    []seen
	Sidecar []seen
	req     request
	marker  string
}

var markers atomic.Int64

// send sends r to the stack's gateway on a fresh connection and reads the
// answer.
func (st *stack) send(t *testing.T, r request) answer {
	t.Helper()
	return st.sendOnOneConnection(t, r)[0]
}

// sendOnOneConnection sends the requests one after another on one kept-alive
// connection (from the first one's address) and reads their answers.
func (st *stack) sendOnOneConnection(t *testing.T, rs ...request) []answer {
	t.Helper()
	from := rs[0].From
	if from == "" {
		from = st.client
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", st.addr)
	if err != nil {
		t.Fatalf("connecting to %s from %s: %v", st.gw.name, from, err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	var out []answer
	for i, r := range rs {
		marker := fmt.Sprintf("%s-%d", st.gw.name, markers.Add(1))
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: jack.example.com\r\n%s: %s\r\n", r.Method, r.Target, markerHeader, marker)
		for _, f := range r.Header {
			fmt.Fprintf(&b, "%s: %s\r\n", f.Name, f.Value)
		}
		if r.Body != "" || r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
		}
		if i == len(rs)-1 {
			b.WriteString("Connection: close\r\n")
		}
		b.WriteString("\r\n")
		b.WriteString(r.Body)
		if _, err := io.WriteString(conn, b.String()); err != nil {
			t.Fatalf("writing to %s: %v", st.gw.name, err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: r.Method})
		if err != nil {
			t.Fatalf("%s %s through %s: reading the answer: %v", r.Method, r.Target, st.gw.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		a := answer{Status: resp.StatusCode, Header: resp.Header, Body: string(body), req: r, marker: marker}
		if json.Unmarshal(body, &a.Envelope) == nil && a.Envelope.Success != nil {
			a.IsEnvelope = true
		}
		if st.jack != nil {
			a.Jack = st.jack.of(marker)
		}
		if st.tap != nil {
			a.Sidecar = st.tap.of(marker)
		}
		out = append(out, a)
		if resp.Close && i < len(rs)-1 {
			t.Fatalf("%s closed the connection after request %d of %d: %s", st.gw.name, i+1, len(rs), a)
		}
	}
	return out
}

// summary is the answer in a few words: Jack's view when it got the
// request, the code of a refusal.
func (a answer) summary() string {
	switch {
	case len(a.Jack) > 0:
		return fmt.Sprintf("Jack got %s %s", a.Jack[0].Method, a.Jack[0].URI)
	case a.IsEnvelope && a.Envelope.Error.Code != "":
		return fmt.Sprintf("%d %s", a.Status, a.Envelope.Error.Code)
	case a.IsEnvelope:
		return fmt.Sprintf("%d (the sidecar's answer)", a.Status)
	case len(a.Sidecar) == 0:
		return fmt.Sprintf("%d from the gateway itself", a.Status)
	}
	return fmt.Sprintf("%d %.60q", a.Status, a.Body)
}

func (a answer) String() string {
	body := a.Body
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return fmt.Sprintf("%s %s → %d %s", a.req.Method, a.req.Target, a.Status, strings.TrimSpace(body))
}

// login posts an email and password to the auth API.
func (st *stack) login(t *testing.T, from, email, pw string) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	return st.send(t, request{Method: "POST", Target: "/api/v1/auth/login", Header: h("Content-Type", "application/json"), Body: string(body), From: from})
}
