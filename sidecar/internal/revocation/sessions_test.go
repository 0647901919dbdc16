package revocation

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/session"
)

// refreshed is the Record of a session refreshed to generation gen, whose
// grace ends a few seconds after t0 and whose last token expires at exp.
func refreshed(gen int64, exp time.Time) session.Record {
	return session.Record{Generation: gen, GraceUntil: t0.Add(10 * time.Second), ExpiresAt: exp}
}

func loggedOut(r session.Record) session.Record {
	r.Ended, r.EndedBecause = true, jack.SessionEndedByLogout
	return r
}

func TestASessionSurvivesARestartAsEveryLineOfItMerged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.jsonl")
	c := &clock{t0}
	s := openAt(t, path, c, Options{})
	steps := []session.Record{
		refreshed(1, t0.Add(time.Hour)),
		refreshed(2, t0.Add(2*time.Hour)),
		// A refresh written late (another request's) takes nothing back.
		refreshed(1, t0.Add(90*time.Minute)),
		loggedOut(refreshed(2, t0.Add(2*time.Hour))),
	}
	for i, rec := range steps {
		if _, _, err := s.RecordSession(SessionEntry{ID: "sess-a", Subject: "staff-1", Record: rec}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := loggedOut(refreshed(2, t0.Add(2*time.Hour)))
	if got := s.Session("sess-a", t0); !got.Equal(want) {
		t.Fatalf("held %+v, want %+v", got, want)
	}
	_ = s.Close()

	again := openAt(t, path, &clock{t0.Add(time.Minute)}, Options{})
	if got := again.Session("sess-a", t0.Add(time.Minute)); !got.Equal(want) {
		t.Errorf("after a restart held %+v, want %+v", got, want)
	}
	if got := again.LiveSessions(t0.Add(time.Minute)); len(got) != 1 || got[0].ID != "sess-a" || got[0].Subject != "staff-1" || !got[0].Record.Equal(want) {
		t.Errorf("LiveSessions after a restart = %+v", got)
	}
	// Opening rewrites the file: one line a session.
	if n := len(readLines(t, path)); n != 1 {
		t.Errorf("the file holds %d lines after the restart, want 1", n)
	}
}

func TestASessionIsForgottenOnlyOnceItsLastTokenExpired(t *testing.T) {
	c := &clock{t0}
	s := openAt(t, filepath.Join(t.TempDir(), "revoked.jsonl"), c, Options{})
	if _, _, err := s.RecordSession(SessionEntry{ID: "s", Record: refreshed(1, t0.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	// A later refresh covers a later token: the session outlives the
	// first expiry, though its place in the queue was taken for it.
	if _, _, err := s.RecordSession(SessionEntry{ID: "s", Record: refreshed(2, t0.Add(3*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		at   time.Time
		want int64 // the generation held; 0 when none
	}{
		"past the first token's expiry":             {t0.Add(2 * time.Hour), 2},
		"within the leeway past the last":           {t0.Add(3*time.Hour + jack.TokenLeeway - time.Second), 2},
		"past the last token's expiry and leeway":   {t0.Add(3*time.Hour + jack.TokenLeeway), 0},
		"a session never recorded, at any time":     {t0, -1},
		"the same session long after, then dropped": {t0.Add(24 * time.Hour), 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			id := "s"
			if tc.want < 0 {
				id, tc.want = "never", 0
			}
			if got := s.Session(id, tc.at); got.Generation != tc.want {
				t.Errorf("Session at %s = %+v, want generation %d", tc.at, got, tc.want)
			}
		})
	}
	// Writes drop what has expired: the queue moved the session to its
	// last token's expiry instead of dropping it at the first.
	c.now = t0.Add(2 * time.Hour)
	if err := s.Prune(c.now); err != nil || s.Len() != 1 {
		t.Errorf("after pruning past the first expiry: %d held (%v), want the session", s.Len(), err)
	}
	c.now = t0.Add(4 * time.Hour)
	if err := s.Prune(c.now); err != nil || s.Len() != 0 {
		t.Errorf("after pruning past the last expiry: %d held (%v), want none", s.Len(), err)
	}
}

func TestRecordSessionSaysWhetherItChangedAnything(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "revoked.jsonl"), &clock{t0}, Options{})
	e := SessionEntry{ID: "s", Subject: "staff-1", Record: refreshed(1, t0.Add(time.Hour))}
	for i, want := range []bool{true, false} {
		if _, changed, err := s.RecordSession(e); err != nil || changed != want {
			t.Errorf("recording the same record, time %d: changed %v (%v), want %v", i+1, changed, err, want)
		}
	}
	held, changed, err := s.RecordSession(SessionEntry{ID: "s", Record: loggedOut(session.Record{ExpiresAt: t0.Add(time.Minute)})})
	if err != nil || !changed || !held.Equal(loggedOut(refreshed(1, t0.Add(time.Hour)))) {
		t.Errorf("a logout onto the refreshed session holds %+v (changed %v, %v); want it ended, its generation and expiry kept", held, changed, err)
	}
	// Sub-second times are kept as the API server and the file keep them.
	odd := refreshed(1, t0.Add(time.Hour+500*time.Millisecond))
	if _, changed, _ := s.RecordSession(SessionEntry{ID: "s", Record: odd}); changed {
		t.Error("an expiry half a second later, which the file cannot keep, counts as a change")
	}
	if _, _, err := s.RecordSession(SessionEntry{ID: "", Record: odd}); err == nil {
		t.Error("a session without an id is recorded")
	}
	if _, _, err := s.RecordSession(SessionEntry{ID: strings.Repeat("s", 129), Record: odd}); err == nil {
		t.Error("a session id of 129 characters is recorded")
	}
}

func TestSessionsTakeRoomButAHeldOneAlwaysChanges(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "revoked.jsonl"), &clock{t0}, Options{MaxPerSubject: 2})
	if err := s.Revoke(Entry{ID: "tok", Subject: "staff-1", Expires: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RecordSession(SessionEntry{ID: "s1", Subject: "staff-1", Record: refreshed(1, t0.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.RecordSession(SessionEntry{ID: "s2", Subject: "staff-1", Record: refreshed(1, t0.Add(time.Hour))})
	var full *FullError
	if !errors.As(err, &full) || full.Subject != "staff-1" {
		t.Fatalf("a third entry of a user with room for two: %v, want the user's share full", err)
	}
	if got := s.Session("s2", t0); got != (session.Record{}) {
		t.Errorf("the refused session is held: %+v", got)
	}
	// Ending a session held already takes no room: a logout is never
	// refused for it.
	if _, changed, err := s.RecordSession(SessionEntry{ID: "s1", Subject: "staff-1", Record: loggedOut(refreshed(1, t0.Add(time.Hour)))}); err != nil || !changed {
		t.Errorf("a logout of a held session with the share full: changed %v, %v", changed, err)
	}
}

func TestSessionsLearnedInBulkMergeAndAreKeptPastTheBoundUpToTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.jsonl")
	s := openAt(t, path, &clock{t0}, Options{MaxEntries: 2})
	if _, _, err := s.RecordSession(SessionEntry{ID: "mine", Record: loggedOut(refreshed(1, t0.Add(time.Hour)))}); err != nil {
		t.Fatal(err)
	}
	err := s.LearnSessions([]SessionEntry{
		// Another replica's refresh of a session this one logged out: it
		// stays ended, and takes the newer generation.
		{ID: "mine", Record: refreshed(3, t0.Add(2*time.Hour))},
		{ID: "b", Record: refreshed(1, t0.Add(time.Hour))},
		{ID: "b", Record: refreshed(2, t0.Add(time.Hour))},
		{ID: "c", Record: refreshed(1, t0.Add(time.Hour))},
		{ID: "d", Record: refreshed(1, t0.Add(time.Hour))},
		{ID: "e", Record: refreshed(1, t0.Add(time.Hour))},
		{ID: "expired", Record: refreshed(1, t0.Add(-time.Hour))},
	})
	if !errors.Is(err, ErrFull) {
		t.Errorf("learning past twice the bound: %v, want ErrFull", err)
	}
	if got, want := s.Session("mine", t0), loggedOut(refreshed(3, t0.Add(2*time.Hour))); !got.Equal(want) {
		t.Errorf("the learned refresh merged into %+v, want %+v", got, want)
	}
	if got := s.Session("b", t0); got.Generation != 2 {
		t.Errorf("two records of one session in a batch: generation %d held, want 2", got.Generation)
	}
	if s.Len() != 4 || s.Session("d", t0).Generation != 1 || s.Session("e", t0).Generation != 0 || s.Session("expired", t0).Generation != 0 {
		t.Errorf("%d held; want mine, b, c and d (twice the bound of 2), e dropped, the expired one skipped", s.Len())
	}
	_ = s.Close()
	again := openAt(t, path, &clock{t0}, Options{MaxEntries: 2})
	if got := again.Session("b", t0); got.Generation != 2 {
		t.Errorf("after a restart the learned session holds generation %d, want 2", got.Generation)
	}
}

func TestTheFileFormatKeepsTokensAndSessionsApart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.jsonl")
	exp := itoa(t0.Add(time.Hour).Unix())
	grace := itoa(t0.Add(10 * time.Second).Unix())
	// A file written before sessions existed, then lines of this version,
	// and damage of every kind.
	content := `{"jti":"old-token","sub":"staff-1","exp":` + exp + "}\n" +
		`{"sid":"s","sub":"staff-1","exp":` + exp + `,"gen":1,"grace":` + grace + "}\n" +
		`{"sid":"s","exp":` + exp + `,"gen":1,"grace":` + grace + `,"ended":"Logout"}` + "\n" +
		`{"jti":"both","sid":"both","exp":` + exp + "}\n" +
		`{"sid":"negative","exp":` + exp + `,"gen":-1}` + "\n" +
		`{"sid":"` + strings.Repeat("s", 129) + `","exp":` + exp + "}\n" +
		`{"sid":"torn","exp":` + exp + `,"gen"`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path, &clock{t0}, Options{})
	if !s.Revoked("old-token", t0) {
		t.Error("a revocation from before sessions is not loaded")
	}
	want := session.Record{Ended: true, EndedBecause: jack.SessionEndedByLogout, Generation: 1, GraceUntil: t0.Add(10 * time.Second), ExpiresAt: t0.Add(time.Hour)}
	if got := s.Session("s", t0); !got.Equal(want) {
		t.Errorf("the session's lines merged into %+v, want %+v", got, want)
	}
	if s.Revoked("both", t0) || s.Session("both", t0).ExpiresAt.After(t0) || s.Session("negative", t0).ExpiresAt.After(t0) || s.Len() != 2 {
		t.Errorf("%d held; a line naming a token and a session, or a negative generation, is damage", s.Len())
	}
	// A sidecar from before sessions reads a line with a jti it can use,
	// and skips one without, as damage: a session's line has none.
	for _, l := range readLines(t, path) {
		var old struct {
			ID string `json:"jti"`
		}
		if err := json.Unmarshal([]byte(l), &old); err != nil {
			t.Fatalf("a line of the rewritten file is not JSON: %q", l)
		}
		if strings.Contains(l, `"sid"`) && old.ID != "" {
			t.Errorf("a session's line carries a jti an older sidecar would load as a revocation: %s", l)
		}
	}
}

// readLines returns the file's non-empty lines.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// FuzzTheFileLoadsWhatItRewrites feeds any content to Open: it never fails
// on content (only on I/O), holds only well-formed ids, and what it holds
// survives the rewrite Open does and a second Open unchanged.
func FuzzTheFileLoadsWhatItRewrites(f *testing.F) {
	exp := itoa(t0.Add(time.Hour).Unix())
	f.Add([]byte(`{"jti":"a","sub":"staff-1","exp":` + exp + "}\n"))
	f.Add([]byte(`{"sid":"s","exp":` + exp + `,"gen":2,"grace":` + exp + `,"ended":"Logout"}` + "\n" + `{"sid":"s","exp":` + exp + `,"gen":3}`))
	f.Add([]byte(`{"sid":"s","jti":"t","exp":1}` + "\n\n{"))
	f.Add([]byte(`{"sid":"s","exp":` + exp + `,"gen":9007199254740993,"grace":-5,"ended":""}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "revoked.jsonl")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		c := &clock{t0}
		first, err := Open(path, t0, Options{Now: c.Now})
		if err != nil {
			t.Fatalf("Open failed on content: %v", err)
		}
		tokens, sessions := first.Live(t0), first.LiveSessions(t0)
		_ = first.Close()
		second, err := Open(path, t0, Options{Now: c.Now})
		if err != nil {
			t.Fatalf("Open failed on its own rewrite: %v", err)
		}
		defer func() { _ = second.Close() }()
		if len(second.Live(t0)) != len(tokens) || len(second.LiveSessions(t0)) != len(sessions) {
			t.Fatalf("the rewrite holds %d tokens and %d sessions, the first load %d and %d",
				len(second.Live(t0)), len(second.LiveSessions(t0)), len(tokens), len(sessions))
		}
		for _, e := range tokens {
			if e.ID == "" || len(e.ID) > maxIDLength || !second.Revoked(e.ID, t0) {
				t.Errorf("token %q: malformed, or lost in the rewrite", e.ID)
			}
		}
		for _, e := range sessions {
			if e.ID == "" || len(e.ID) > maxIDLength || e.Record.Generation < 0 {
				t.Errorf("session %q held with %+v", e.ID, e.Record)
			}
			if got := second.Session(e.ID, t0); !got.Equal(e.Record) {
				t.Errorf("session %q: %+v after the rewrite, %+v before", e.ID, got, e.Record)
			}
		}
	})
}
