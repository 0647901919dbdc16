package revocation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jack-io/jack-operator/sidecar/internal/session"
)

func TestBoundsRefuseALogoutAndNeverDropOne(t *testing.T) {
	hour := t0.Add(time.Hour)
	cases := map[string]struct {
		opts    Options
		held    []Entry // revoked first, at t0
		at      time.Duration
		revoke  Entry
		wantErr bool
		subject string // FullError.Subject when refused
	}{
		"a logout past MaxEntries is refused": {
			opts: Options{MaxEntries: 2}, held: []Entry{{ID: "a", Expires: hour}, {ID: "b", Expires: hour}},
			revoke: Entry{ID: "c", Expires: hour}, wantErr: true,
		},
		"a logout past a user's share is refused": {
			opts: Options{MaxPerSubject: 2}, held: []Entry{{ID: "a", Subject: "staff-1", Expires: hour}, {ID: "b", Subject: "staff-1", Expires: hour}},
			revoke: Entry{ID: "c", Subject: "staff-1", Expires: hour}, wantErr: true, subject: "staff-1",
		},
		"another user's logout is not refused for one user's share": {
			opts: Options{MaxPerSubject: 2}, held: []Entry{{ID: "a", Subject: "staff-1", Expires: hour}, {ID: "b", Subject: "staff-1", Expires: hour}},
			revoke: Entry{ID: "c", Subject: "staff-2", Expires: hour},
		},
		"a share is counted on the subject as stored, cut to its bound": {
			opts: Options{MaxPerSubject: 1}, held: []Entry{{ID: "a", Subject: strings.Repeat("u", 300) + "1", Expires: hour}},
			revoke: Entry{ID: "c", Subject: strings.Repeat("u", 300) + "2", Expires: hour}, wantErr: true, subject: strings.Repeat("u", maxSubjectLength),
		},
		"an expired revocation makes room without a Prune": {
			opts: Options{MaxEntries: 2}, held: []Entry{{ID: "a", Expires: t0.Add(time.Minute)}, {ID: "b", Expires: hour}},
			at: 2 * time.Minute, revoke: Entry{ID: "c", Expires: hour},
		},
		"a revocation within the verifier's leeway still takes room": {
			opts: Options{MaxEntries: 2}, held: []Entry{{ID: "a", Expires: t0.Add(time.Minute)}, {ID: "b", Expires: hour}},
			at: time.Minute + 10*time.Second, revoke: Entry{ID: "c", Expires: hour}, wantErr: true,
		},
		"revoking a held id again is no error when full": {
			opts: Options{MaxEntries: 1}, held: []Entry{{ID: "a", Expires: hour}},
			revoke: Entry{ID: "a", Expires: hour},
		},
		"a token already expired needs no room": {
			opts: Options{MaxEntries: 1}, held: []Entry{{ID: "a", Expires: hour}},
			revoke: Entry{ID: "old", Expires: t0.Add(-time.Minute)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "revoked.jsonl")
			c := &clock{t0}
			s := openAt(t, path, c, tc.opts)
			for _, e := range tc.held {
				if err := s.Revoke(e); err != nil {
					t.Fatal(err)
				}
			}
			c.now = t0.Add(tc.at)
			err := s.Revoke(tc.revoke)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var full *FullError
			if !errors.Is(err, ErrFull) || !errors.As(err, &full) {
				t.Fatalf("Revoke = %v, want a *FullError", err)
			}
			if full.Subject != tc.subject {
				t.Errorf("FullError.Subject = %q, want %q", full.Subject, tc.subject)
			}
			if tc.subject == "" && full.RetryAfter <= 0 {
				t.Errorf("a full store says no RetryAfter")
			}
			_ = s.Close()
			again := openAt(t, path, c, tc.opts)
			if again.Revoked(tc.revoke.ID, c.now) {
				t.Error("the refused revocation was recorded: a caller told it failed would find it in force")
			}
			for _, e := range tc.held {
				if c.now.Before(e.Expires) && !again.Revoked(e.ID, c.now) {
					t.Errorf("%s, held before, is lost", e.ID)
				}
			}
		})
	}
}

func TestAFullStoreSaysWhenRoomFreesUp(t *testing.T) {
	c := &clock{t0}
	s := openAt(t, "", c, Options{MaxEntries: 2})
	_ = s.Revoke(Entry{ID: "a", Expires: t0.Add(10 * time.Minute)})
	_ = s.Revoke(Entry{ID: "b", Expires: t0.Add(time.Hour)})
	var full *FullError
	if err := s.Revoke(Entry{ID: "c", Expires: t0.Add(time.Hour)}); !errors.As(err, &full) {
		t.Fatalf("Revoke = %v, want a *FullError", err)
	}
	if want := 10*time.Minute + 30*time.Second; full.RetryAfter != want {
		t.Errorf("RetryAfter = %s, want %s: when a's revocation ends", full.RetryAfter, want)
	}
	c.now = t0.Add(full.RetryAfter)
	if err := s.Revoke(Entry{ID: "c", Expires: t0.Add(time.Hour)}); err != nil {
		t.Errorf("refused after RetryAfter: %v", err)
	}
}

// A client refreshing and logging out in a loop with short-lived tokens:
// the file stays a bounded size however long it goes on.
func TestAFloodOfShortLivedRevocationsKeepsTheFileBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.jsonl")
	c := &clock{t0}
	s := openAt(t, path, c, Options{MaxPerSubject: 1 << 30, Leeway: -1})
	const n = 3_000
	// 100 logouts a second, each of a token with 2.5 s left: about 250 live
	// at once.
	var biggest int64
	for i := range n {
		c.now = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if err := s.Revoke(Entry{ID: fmt.Sprintf("flood-%07d", i), Subject: "staff-1", Expires: c.now.Add(2500 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		if lines := s.lines.Load(); lines > int64(max(2*s.Len(), compactFloor)) {
			t.Fatalf("after %d logouts the file has %d lines for %d held", i+1, lines, s.Len())
		}
		if i%100 == 99 {
			st, _ := os.Stat(path)
			biggest = max(biggest, st.Size())
		}
	}
	// Every line here has the same length; the file never passes the floor.
	b, _ := json.Marshal(line{ID: "flood-0000000", Subject: "staff-1", Expires: t0.Unix()})
	lineLen := len(b) + 1
	if bound := int64(compactFloor * lineLen); biggest > bound {
		t.Errorf("the file grew to %d bytes; want at most %d", biggest, bound)
	}
	t.Logf("%d logouts, %d held, the file at most %d bytes (%d bytes without compaction)", n, s.Len(), biggest, n*lineLen)
}

// The pattern of the issue: refresh and logout in a loop, each token with
// a day to live, so nothing expires. The store fills, refuses, and the file
// holds no more than what is held.
func TestAFloodOfLongLivedRevocationsFillsTheStoreAndStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.jsonl")
	c := &clock{t0}
	s := openAt(t, path, c, Options{MaxEntries: 500, MaxPerSubject: 150})
	refused := 0
	for i := range 800 {
		// One greedy account first, then ten others.
		subject := "staff-greedy"
		if i >= 400 {
			subject = fmt.Sprintf("staff-%d", i%10)
		}
		err := s.Revoke(Entry{ID: fmt.Sprintf("long-%07d", i), Subject: subject, Expires: t0.Add(24 * time.Hour)})
		switch {
		case errors.Is(err, ErrFull):
			refused++
		case err != nil:
			t.Fatal(err)
		}
	}
	if s.Len() != 500 || refused != 300 {
		t.Errorf("%d held, %d refused; want 500 held and 300 refused (250 of the greedy account's, 50 past the bound)", s.Len(), refused)
	}
	want := `
# HELP jack_sidecar_revocations_refused_total ` + refusedHelp + `
# TYPE jack_sidecar_revocations_refused_total counter
jack_sidecar_revocations_refused_total{reason="full"} 50
jack_sidecar_revocations_refused_total{reason="learned_dropped"} 0
jack_sidecar_revocations_refused_total{reason="user_full"} 250
`
	if err := testutil.CollectAndCompare(s.Collector(), strings.NewReader(want), "jack_sidecar_revocations_refused_total"); err != nil {
		t.Error(err)
	}
	data, _ := os.ReadFile(path)
	if lines := strings.Count(string(data), "\n"); lines != 500 {
		t.Errorf("the file has %d lines, want the 500 held", lines)
	}
}

func TestRevocationsLearnedFromOtherReplicasAreKeptPastTheBoundUpToTwice(t *testing.T) {
	c := &clock{t0}
	s := openAt(t, filepath.Join(t.TempDir(), "revoked.jsonl"), c, Options{MaxEntries: 10})
	var learned []Entry
	for i := range 25 {
		learned = append(learned, Entry{ID: fmt.Sprint("other-", i), Expires: t0.Add(time.Hour)})
	}
	err := s.RevokeAll(learned)
	if !errors.Is(err, ErrFull) {
		t.Errorf("RevokeAll = %v, want ErrFull for the 5 past twice the bound", err)
	}
	if s.Len() != 20 {
		t.Errorf("%d held, want 20", s.Len())
	}
	if err := s.Revoke(Entry{ID: "mine", Expires: t0.Add(time.Hour)}); !errors.Is(err, ErrFull) {
		t.Errorf("a local logout with the store over its bound: %v, want ErrFull", err)
	}
}

func TestAppendsAfterARewriteSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "revoked.jsonl")
	c := &clock{t0}
	s := openAt(t, path, c, Options{})
	for i := range 1200 {
		_ = s.Revoke(Entry{ID: fmt.Sprint("short-", i), Expires: t0.Add(time.Minute)})
	}
	c.now = t0.Add(2 * time.Minute)
	// This write finds 1,200 stale lines and rewrites the file; the next
	// ones must land in the new file, not the replaced one.
	_ = s.Revoke(Entry{ID: "after-1", Expires: t0.Add(time.Hour)})
	_ = s.Revoke(Entry{ID: "after-2", Expires: t0.Add(time.Hour)})
	if got := s.compactions.Load(); got != 1 {
		t.Errorf("%v rewrites, want 1", got)
	}
	_ = s.Close()
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file was left behind: %v", err)
	}
	again := openAt(t, path, c, Options{})
	if !again.Revoked("after-1", c.now) || !again.Revoked("after-2", c.now) || again.Len() != 2 {
		t.Errorf("after a restart %d held; want after-1 and after-2", again.Len())
	}
}

func TestALeftoverTemporaryFileIsIgnored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "revoked.jsonl")
	exp := itoa(t0.Add(time.Hour).Unix())
	_ = os.WriteFile(path, []byte(`{"jti":"kept","exp":`+exp+"}\n"), 0o600)
	// A crash mid-rewrite leaves a partial temporary file, never renamed.
	_ = os.WriteFile(path+".tmp", []byte(`{"jti":"half","ex`), 0o600)
	s := openAt(t, path, &clock{t0}, Options{})
	if !s.Revoked("kept", t0) || s.Revoked("half", t0) {
		t.Error("want the file's revocation, and nothing from the leftover")
	}
}

func TestConcurrentUseIsSafe(t *testing.T) {
	c := &clock{t0}
	s := openAt(t, filepath.Join(t.TempDir(), "revoked.jsonl"), c, Options{MaxEntries: 500})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 300 {
				_ = s.Revoke(Entry{ID: fmt.Sprintf("w%d-%d", w, i), Subject: "staff-1", Expires: t0.Add(time.Hour)})
				_ = s.Revoked(fmt.Sprintf("w%d-%d", w, i/2), t0)
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			_ = s.RevokeAll([]Entry{{ID: fmt.Sprint("learned-", i), Expires: t0.Add(time.Hour)}})
			_ = s.Prune(t0)
			_ = s.Live(t0)
			_ = testutil.CollectAndCount(s.Collector())
		}
	})
	// Sessions refreshed, learned and read at once, a few of them often.
	wg.Go(func() {
		for i := range 200 {
			rec := session.Record{Generation: int64(i), ExpiresAt: t0.Add(time.Hour + time.Duration(i)*time.Second)}
			_, _, _ = s.RecordSession(SessionEntry{ID: fmt.Sprint("s", i%5), Subject: "staff-2", Record: rec})
			_ = s.LearnSessions([]SessionEntry{{ID: fmt.Sprint("s", (i+1)%5), Record: rec}})
			_ = s.Session(fmt.Sprint("s", i%7), t0)
			_ = s.LiveSessions(t0)
		}
	})
	wg.Wait()
	if s.Len() > 555 {
		t.Errorf("%d held, want at most 500 plus the 50 learned and 5 sessions", s.Len())
	}
}
