package kube_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jack-io/jack-operator/internal/testsupport/poll"
	"github.com/jack-io/jack-operator/sidecar/internal/kube"
)

// These tests cover edges of the list/watch protocol that a healthy test
// API server does not produce on demand: a resourceVersion too old for its
// history (which takes an etcd compaction), one too new for it (an HA
// server lagging behind), a watch that ends at once. A small server speaks
// the protocol for them, answering each list and watch with the next step
// of a script; everything else is tested against the real API server.

// step answers one list or watch request.
type step func(w http.ResponseWriter, r *http.Request)

// scriptServer answers lists and watches of one collection from scripts and
// records the resourceVersion each asked for. Past its script a list fails
// and a watch stays open without events until the client leaves.
type scriptServer struct {
	lists, watches []step

	mu                   sync.Mutex
	listRVs, watchRVs    []string
	authorizationHeaders []string
}

func (s *scriptServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.authorizationHeaders = append(s.authorizationHeaders, r.Header.Get("Authorization"))
	var next step
	if q.Get("watch") == "true" {
		if q.Get("allowWatchBookmarks") != "true" || q.Get("timeoutSeconds") == "" {
			s.mu.Unlock()
			http.Error(w, "a reflector's watch asks for bookmarks and a timeout", http.StatusBadRequest)
			return
		}
		if i := len(s.watchRVs); i < len(s.watches) {
			next = s.watches[i]
		} else {
			next = hold()
		}
		s.watchRVs = append(s.watchRVs, q.Get("resourceVersion"))
	} else {
		if i := len(s.listRVs); i < len(s.lists) {
			next = s.lists[i]
		} else {
			next = answer(http.StatusInternalServerError, "InternalError")
		}
		s.listRVs = append(s.listRVs, q.Get("resourceVersion"))
	}
	s.mu.Unlock()
	next(w, r)
}

func (s *scriptServer) requests() (lists, watches []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.listRVs), slices.Clone(s.watchRVs)
}

// start serves s over TLS and returns a client that trusts it.
func (s *scriptServer) start(t *testing.T) *kube.Client {
	t.Helper()
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := kube.Config{Host: srv.URL, TokenFile: filepath.Join(dir, "token"), CAFile: filepath.Join(dir, "ca.crt"), Namespace: "ns"}
	if err := os.WriteFile(cfg.TokenFile, []byte("scripted-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.CAFile, pemOf(srv.Certificate().Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	return newClient(t, cfg)
}

func object(name, rv string) string {
	return fmt.Sprintf(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":%q,"resourceVersion":%q},"data":{"v":%q}}`, name, rv, rv)
}

// list answers with the named objects at resourceVersion rv.
func list(rv string, names ...string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		items := make([]string, len(names))
		for i, n := range names {
			items[i] = object(n, rv)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":%q},"items":[%s]}`, rv, strings.Join(items, ","))
	}
}

// events streams watch events, each "TYPE name rv", then ends the watch
// normally.
func events(evs ...string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for _, ev := range evs {
			f := strings.Fields(ev)
			obj := object(f[1], f[2])
			if f[0] == "BOOKMARK" {
				obj = fmt.Sprintf(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":%q}}`, f[2])
			}
			fmt.Fprintf(w, `{"type":%q,"object":%s}`+"\n", f[0], obj)
		}
		w.(http.Flusher).Flush()
	}
}

// thenBreak runs s and then breaks the connection mid-stream.
func thenBreak(s step) step {
	return func(w http.ResponseWriter, r *http.Request) {
		s(w, r)
		panic(http.ErrAbortHandler)
	}
}

// thenHold runs s and then keeps the watch open until the client leaves.
func thenHold(s step) step {
	return func(w http.ResponseWriter, r *http.Request) {
		s(w, r)
		<-r.Context().Done()
	}
}

func hold() step { return thenHold(events()) }

// expiredEvent streams the ERROR event an API server sends when the watch's
// resourceVersion is older than its history.
func expiredEvent() step {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 10 (15)","reason":"Expired","code":410}}`)
	}
}

// answer refuses the request with a Status of code and reason.
func answer(code int, reason string, causes ...string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		details := ""
		if len(causes) > 0 {
			details = fmt.Sprintf(`,"details":{"causes":[{"reason":%q}]}`, causes[0])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"scripted %s","reason":%q,"code":%d%s}`, reason, reason, code, details)
	}
}

func TestReflectorFollowsTheProtocolAtItsEdges(t *testing.T) {
	tests := map[string]struct {
		lists, watches []step
		// want is the handler's final state (name → resourceVersion); the
		// versions each list and watch asked for; how many failures the
		// status counts.
		want                  map[string]string
		wantLists, wantWatchs []string
		wantFailures          uint64
	}{
		"an ERROR event with reason Expired makes a list of the current state": {
			lists:        []step{list("10", "a"), list("20", "b")},
			watches:      []step{expiredEvent()},
			want:         map[string]string{"b": "20"},
			wantLists:    []string{"", ""},
			wantWatchs:   []string{"10", "20"},
			wantFailures: 0,
		},
		"a 410 Gone answer to a watch makes a list of the current state": {
			lists:      []step{list("10", "a"), list("20", "b")},
			watches:    []step{answer(http.StatusGone, "Expired")},
			want:       map[string]string{"b": "20"},
			wantLists:  []string{"", ""},
			wantWatchs: []string{"10", "20"},
		},
		"a watch from a version the server has not reached makes a list of the current state": {
			lists:      []step{list("10", "a"), list("20", "b")},
			watches:    []step{answer(http.StatusGatewayTimeout, "Timeout", "ResourceVersionTooLarge")},
			want:       map[string]string{"b": "20"},
			wantLists:  []string{"", ""},
			wantWatchs: []string{"10", "20"},
		},
		"bookmarks advance the version a watch resumes from": {
			lists:      []step{list("10", "a")},
			watches:    []step{events("ADDED b 11", "BOOKMARK - 15")},
			want:       map[string]string{"a": "10", "b": "11"},
			wantLists:  []string{""},
			wantWatchs: []string{"10", "15"},
		},
		"a broken watch resumes from the last version, without a list": {
			lists:        []step{list("10", "a")},
			watches:      []step{thenBreak(events("MODIFIED a 11", "ADDED b 12")), events("DELETED a 13")},
			want:         map[string]string{"b": "12"},
			wantLists:    []string{""},
			wantWatchs:   []string{"10", "12", "13"},
			wantFailures: 1,
		},
		"a watch that ends at once without an event is a failure, followed by a list": {
			lists:        []step{list("10", "a"), list("20", "b")},
			watches:      []step{events()},
			want:         map[string]string{"b": "20"},
			wantLists:    []string{"", "10"},
			wantWatchs:   []string{"10", "20"},
			wantFailures: 1,
		},
		"a failed list is tried again at the same version": {
			lists:        []step{answer(http.StatusTooManyRequests, "TooManyRequests"), list("10", "a")},
			want:         map[string]string{"a": "10"},
			wantLists:    []string{"", ""},
			wantWatchs:   []string{"10"},
			wantFailures: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := &scriptServer{lists: tc.lists, watches: tc.watches}
			s := configMapStore()
			r := kube.NewReflector(srv.start(t), kube.ListWatch{Path: "/api/v1/namespaces/ns/configmaps"}, s)
			run(t, r)
			poll.True(t, settle, "the watches run their script", func() bool {
				_, watches := srv.requests()
				return len(watches) >= len(tc.wantWatchs)
			})
			poll.True(t, settle, "the handler holds the final state", holds(s, func(cm configMap) string { return cm.Metadata.ResourceVersion }, tc.want))
			lists, watches := srv.requests()
			if !slices.Equal(lists, tc.wantLists) || !slices.Equal(watches, tc.wantWatchs) {
				t.Errorf("lists asked for versions %q and watches for %q; want %q and %q", lists, watches, tc.wantLists, tc.wantWatchs)
			}
			if st := r.Status(); st.Failures != tc.wantFailures || !st.Synced {
				t.Errorf("the status is %+v; want synced, %d failures", st, tc.wantFailures)
			}
		})
	}
}

func TestWatchEventsAndErrors(t *testing.T) {
	srv := &scriptServer{watches: []step{events("ADDED a 11", "BOOKMARK - 12"), expiredEvent()}}
	c := srv.start(t)
	ctx := t.Context()
	opts := kube.ListOptions{AllowWatchBookmarks: true, TimeoutSeconds: 60, ResourceVersion: "10"}

	w, err := c.Watch(ctx, "/api/v1/namespaces/ns/configmaps", opts)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	var got []kube.EventType
	for {
		ev, err := w.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Next: %v; want the end of the watch", err)
			}
			break
		}
		got = append(got, ev.Type)
	}
	w.Close()
	if want := []kube.EventType{kube.Added, kube.Bookmark}; !slices.Equal(got, want) {
		t.Errorf("events %v; want %v", got, want)
	}

	w, err = c.Watch(ctx, "/api/v1/namespaces/ns/configmaps", opts)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer w.Close()
	if _, err := w.Next(); !kube.IsExpired(err) || !strings.Contains(err.Error(), "too old resource version") {
		t.Errorf("an ERROR event gave %v; want an Expired error with the server's message", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, h := range srv.authorizationHeaders {
		if h != "Bearer scripted-token" {
			t.Errorf("a request carried Authorization %q; want the token file's token", h)
		}
	}
}
