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

func TestARevocationSurvivesARestartUntilItsTokenExpires(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.jsonl")
	s, err := Open(path, t0)
	if err != nil {
		t.Fatal(err)
	}
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

	again, err := Open(path, t0.Add(90*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = again.Close() }()
	cases := map[string]struct {
		id   string
		at   time.Time
		want bool
	}{
		"a logout is remembered after a restart":           {"token-b", t0.Add(90 * time.Minute), true},
		"a revocation is forgotten once its token expired": {"token-a", t0.Add(90 * time.Minute), false},
		"an id never revoked is not":                       {"token-c", t0, false},
		"a revocation ends when its token would":           {"token-b", t0.Add(2 * time.Hour), false},
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

func TestATornLastLineIsSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked.jsonl")
	content := `{"jti":"kept","exp":` + itoa(t0.Add(time.Hour).Unix()) + "}\n" + `{"jti":"torn","ex`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, t0)
	if err != nil {
		t.Fatalf("a torn line made Open fail: %v", err)
	}
	defer func() { _ = s.Close() }()
	if !s.Revoked("kept", t0) || s.Revoked("torn", t0) {
		t.Error("the complete line must be kept and the torn one skipped")
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
	s, err := Open(path, t0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
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
	s, err := Open(path, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(Entry{ID: "a", Subject: "staff-1", Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	err = s.RevokeAll([]Entry{{ID: "a", Expires: now.Add(time.Hour)}, {ID: "b", Expires: now.Add(time.Hour)}, {ID: "", Expires: now.Add(time.Hour)}, {ID: "c", Expires: now.Add(-time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	again, err := Open(path, now)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = again.Close() }()
	if !again.Revoked("a", now) || !again.Revoked("b", now) || again.Revoked("c", now) {
		t.Errorf("after a restart: a %v, b %v, c (expired) %v", again.Revoked("a", now), again.Revoked("b", now), again.Revoked("c", now))
	}
	live := again.Live(now)
	slices.SortFunc(live, func(x, y Entry) int { return strings.Compare(x.ID, y.ID) })
	if len(live) != 2 || live[0].Subject != "staff-1" || live[1].ID != "b" {
		t.Errorf("Live = %+v, want a (of staff-1, kept across the restart) and b", live)
	}
}
