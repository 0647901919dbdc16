//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// crossTraffic is a client that keeps logging in at one replica and using
// every token it got at every replica, as clients behind a Service do: the
// next request may land anywhere. Every token it holds is valid (unexpired,
// never logged out), so any refusal is a replica refusing a valid token.
type crossTraffic struct {
	addrs    []string
	email    string
	password string

	stop     chan struct{}
	done     sync.WaitGroup
	logins   atomic.Int64
	verified atomic.Int64
	mu       sync.Mutex
	refused  []string
	tokens   []string
}

// startCrossTraffic starts the client; stop ends it and returns what it saw.
// It logs in every loginEvery, alternating replicas, and verifies each of
// its last few tokens at every replica in between. It is bounded: it stops
// by itself after limit.
func startCrossTraffic(addrs []string, email, password string, loginEvery, limit time.Duration) *crossTraffic {
	ct := &crossTraffic{addrs: addrs, email: email, password: password, stop: make(chan struct{})}
	ct.done.Add(1)
	go ct.run(loginEvery, time.Now().Add(limit))
	return ct
}

func (ct *crossTraffic) run(loginEvery time.Duration, until time.Time) {
	defer ct.done.Done()
	nextLogin := time.Now()
	for i := 0; time.Now().Before(until); i++ {
		select {
		case <-ct.stop:
			return
		default:
		}
		if !time.Now().Before(nextLogin) {
			nextLogin = time.Now().Add(loginEvery)
			if tok, err := ct.login(ct.addrs[int(ct.logins.Load())%len(ct.addrs)]); err == nil {
				ct.logins.Add(1)
				ct.mu.Lock()
				ct.tokens = append(ct.tokens, tok)
				if len(ct.tokens) > 4 {
					ct.tokens = ct.tokens[1:]
				}
				ct.mu.Unlock()
			} else {
				ct.note("login at %s: %v", ct.addrs[int(ct.logins.Load())%len(ct.addrs)], err)
			}
		}
		ct.mu.Lock()
		toks := append([]string(nil), ct.tokens...)
		ct.mu.Unlock()
		for _, tok := range toks {
			for _, addr := range ct.addrs {
				st, err := ct.verify(addr, tok)
				ct.verified.Add(1)
				if err != nil || (st != http.StatusOK && st != http.StatusForbidden) {
					ct.note("a valid token (kid %s) answered %d at %s (%v)", kidOf(tok), st, addr, err)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (ct *crossTraffic) note(format string, args ...any) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if len(ct.refused) < 1000 {
		ct.refused = append(ct.refused, fmt.Sprintf(format, args...))
	}
}

func (ct *crossTraffic) login(addr string) (string, error) {
	return loginAt(addr, ct.email, ct.password)
}

func (ct *crossTraffic) verify(addr, tok string) (int, error) { return verifyAt(addr, tok) }

// loginAt logs in at a sidecar and returns the token, without a testing.TB:
// for clients running beside the test.
func loginAt(addr, email, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := c.http.Post("http://"+addr+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var a struct {
		Data struct{ Token string } `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return a.Data.Token, nil
}

// verifyAt asks a sidecar's /auth (Envoy's form) about a token: 200 or 403
// is an accepted token.
func verifyAt(addr, tok string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/auth/api/v1/tasks", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// logoutAt logs a token out at a sidecar and returns the status and the
// envelope's error code.
func logoutAt(addr, tok string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var a struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a.Error.Code, nil
}

// getJSON decodes the answer to a GET inside the cluster's network.
func getJSON(url string, v any) error {
	resp, err := c.http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// end stops the client and returns how many logins and verifications it
// made and every refusal it saw.
func (ct *crossTraffic) end() (logins, verified int64, refused []string) {
	close(ct.stop)
	ct.done.Wait()
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.logins.Load(), ct.verified.Load(), ct.refused
}

// kidOf is the key id in a token's header, "" when it does not decode.
func kidOf(tok string) string {
	head, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	var h struct{ Kid string }
	if err != nil || json.Unmarshal(raw, &h) != nil {
		return ""
	}
	return h.Kid
}
