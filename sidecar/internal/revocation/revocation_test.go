package revocation

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

// clock is a settable time for Options.Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// openAt opens path with the clock at at; opts may set the bounds.
func openAt(t *testing.T, path string, c *clock, opts Options) *File {
	t.Helper()
	opts.Now = c.Now
	s, err := Open(path, c.now, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestARevocationSurvivesARestartUntilItsTokenExpires(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.jsonl")
	c := &clock{t0}
	s := openAt(t, path, c, Options{})
	if err := s.Revoke(Entry{ID: "token-a", Expires: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(Entry{ID: "token-b", Subject: "staff-1", Expires: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(Entry{ID: "token-a", Expires: t0.Add(time.Hour)}); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	_ = s.Close()

	again := openAt(t, path, &clock{t0.Add(90 * time.Minute)}, Options{})
	cases := map[string]struct {
		id   string
		at   time.Time
		want bool
	}{
		"a logout is remembered after a restart":                      {"token-b", t0.Add(90 * time.Minute), true},
		"a revocation is forgotten once its token expired":            {"token-a", t0.Add(90 * time.Minute), false},
		"an id never revoked is not":                                  {"token-c", t0, false},
		"a revocation lasts while the verifier's leeway accepts it":   {"token-b", t0.Add(2*time.Hour + 29*time.Second), true},
		"a revocation ends when its token would, past the leeway":     {"token-b", t0.Add(2*time.Hour + 30*time.Second), false},
		"a revocation ends at the leeway even between whole seconds":  {"token-b", t0.Add(2*time.Hour + 30*time.Second + time.Millisecond), false},
		"a revocation holds up to the last instant before the leeway": {"token-b", t0.Add(2*time.Hour + 30*time.Second - time.Millisecond), true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := again.Revoked(tc.id, tc.at); got != tc.want {
				t.Errorf("Revoked(%s) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
	if again.Len() != 1 {
		t.Errorf("after a restart %d revocations are held, want the 1 live one", again.Len())
	}
}

func TestDamagedLinesAreSkipped(t *testing.T) {
	exp := itoa(t0.Add(time.Hour).Unix())
	cases := map[string]string{
		"a torn last line":            `{"jti":"kept","exp":` + exp + "}\n" + `{"jti":"torn","ex`,
		"a line longer than any ours": strings.Repeat("x", 10_000) + "\n" + `{"jti":"kept","exp":` + exp + "}\n",
		"blank lines and an id too long": "\n\n" + `{"jti":"` + strings.Repeat("i", 129) + `","exp":` + exp + "}\n" +
			`{"jti":"kept","exp":` + exp + "}\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "revoked.jsonl")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, t0, Options{Now: (&clock{t0}).Now})
			if err != nil {
				t.Fatalf("damage made Open fail: %v", err)
			}
			defer func() { _ = s.Close() }()
			if !s.Revoked("kept", t0) || s.Len() != 1 {
				t.Errorf("want the one complete line kept and the damage skipped; %d held", s.Len())
			}
		})
	}
}

func TestRevokeRefusesImpossibleIDs(t *testing.T) {
	s, _ := Open("", t0)
	for name, id := range map[string]string{"empty": "", "too long": string(make([]byte, 129))} {
		if err := s.Revoke(Entry{ID: id, Expires: t0.Add(time.Hour)}); err == nil {
			t.Errorf("%s id was accepted", name)
		}
	}
}

func TestPruneRewritesAFileMostlyOfExpiredLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.jsonl")
	s := openAt(t, path, &clock{t0}, Options{})
	for i := range 1500 {
		if err := s.Revoke(Entry{ID: "old-" + itoa(int64(i)), Expires: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Revoke(Entry{ID: "live", Expires: t0.Add(time.Hour)})
	before, _ := os.Stat(path)
	if err := s.Prune(t0.Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if after.Size() >= before.Size()/100 || !s.Revoked("live", t0.Add(2*time.Minute)) {
		t.Errorf("file went from %d to %d bytes; want it rewritten with only the live revocation", before.Size(), after.Size())
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestRevokeAllIsDurableAndSkipsKnownIDs(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	path := filepath.Join(t.TempDir(), "revocations.jsonl")
	s := openAt(t, path, &clock{now}, Options{})
	if err := s.Revoke(Entry{ID: "a", Subject: "staff-1", Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	err := s.RevokeAll([]Entry{{ID: "a", Expires: now.Add(time.Hour)}, {ID: "b", Expires: now.Add(time.Hour)}, {ID: "b", Expires: now.Add(time.Hour)}, {ID: "", Expires: now.Add(time.Hour)}, {ID: "c", Expires: now.Add(-time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	again := openAt(t, path, &clock{now}, Options{})
	if !again.Revoked("a", now) || !again.Revoked("b", now) || again.Revoked("c", now) {
		t.Errorf("after a restart: a %v, b %v, c (expired) %v", again.Revoked("a", now), again.Revoked("b", now), again.Revoked("c", now))
	}
	live := again.Live(now)
	slices.SortFunc(live, func(x, y Entry) int { return strings.Compare(x.ID, y.ID) })
	if len(live) != 2 || live[0].Subject != "staff-1" || live[1].ID != "b" {
		t.Errorf("Live = %+v, want a (of staff-1, kept across the restart) and b", live)
	}
}
