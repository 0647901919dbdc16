package userdir

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/internal/password"
)

var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

// fakeHash is a hash in the real argon2id format, at the default cost, with
// salt and key derived from n: as long as a real one, without the cost of
// computing it.
func fakeHash(n int) string {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(n))
	sum := sha256.Sum256(seed[:])
	salt, key := sum[:16], sha256.Sum256(sum[:])
	p := password.DefaultParams
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Iterations, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key[:]))
}

func sample() *Directory {
	return &Directory{Users: []User{
		{ID: "staff-123", Email: "Bob@Example.com", Name: "Bob", Role: jack.RoleStaff,
			PasswordHash: fakeHash(2), PasswordVersion: "v2", Disabled: true},
		{ID: "admin-1", Email: "alice@example.com", Name: "Alice", Role: jack.RoleAdmin,
			PasswordHash: fakeHash(1), PasswordVersion: "v1", SessionsValidAfter: t0.Add(1500 * time.Millisecond)},
		{ID: "manager-7", Email: "carol@example.com", Name: "Carol <Ops & Co>", Role: jack.RoleManager},
	}}
}

func mustMarshal(t testing.TB, d *Directory) []byte {
	t.Helper()
	data, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestADirectorySurvivesARoundTrip(t *testing.T) {
	data := mustMarshal(t, sample())
	got, err := Parse(data)
	if err != nil {
		t.Fatalf("parsing what Marshal wrote: %v", err)
	}
	want := map[string]User{}
	for _, u := range sample().Users {
		u.Email = strings.ToLower(u.Email)
		want[u.ID] = u
	}
	if len(got.Users) != len(want) {
		t.Fatalf("got %d users back, want %d", len(got.Users), len(want))
	}
	for _, u := range got.Users {
		w := want[u.ID]
		if !u.SessionsValidAfter.Equal(w.SessionsValidAfter) {
			t.Errorf("user %s: sessionsValidAfter %v came back as %v", u.ID, w.SessionsValidAfter, u.SessionsValidAfter)
		}
		u.SessionsValidAfter, w.SessionsValidAfter = time.Time{}, time.Time{}
		if u != w {
			t.Errorf("user after a round trip = %+v, want %+v", u, w)
		}
	}
	if again := mustMarshal(t, got); !bytes.Equal(again, data) {
		t.Errorf("marshal is not deterministic:\n%s\n%s", data, again)
	}
}

func TestTheFileIsCompactSortedByEmailAndLeavesOutWhatIsUnset(t *testing.T) {
	data := string(mustMarshal(t, sample()))
	if strings.ContainsAny(data, "\n\t") || strings.Contains(data, `": `) {
		t.Errorf("the file is indented:\n%s", data)
	}
	if a, b, c := strings.Index(data, "alice@"), strings.Index(data, "bob@"), strings.Index(data, "carol@"); !(a < b && b < c) {
		t.Errorf("users are not sorted by email:\n%s", data)
	}
	for _, want := range []string{
		`{"version":"userdir.auth.jack.io/v1","users":[`,
		`"email":"bob@example.com"`,
		`"sessionsValidAfter":"2026-11-27T02:00:01.5Z"`,
		`"disabled":true`,
		`"name":"Carol <Ops & Co>"`,
		`{"id":"manager-7","email":"carol@example.com","name":"Carol <Ops & Co>","role":"manager"}`,
	} {
		if !strings.Contains(data, want) {
			t.Errorf("the file lacks %s:\n%s", want, data)
		}
	}
	if strings.Count(data, `"disabled"`) != 1 || strings.Count(data, `"sessionsValidAfter"`) != 1 {
		t.Errorf("unset disabled or sessionsValidAfter fields are written:\n%s", data)
	}
}

func TestMarshalDoesNotDependOnOrderCaseOrTimeZone(t *testing.T) {
	want := mustMarshal(t, sample())
	berlin := time.FixedZone("CET", 3600)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		d := sample()
		rng.Shuffle(len(d.Users), func(a, b int) { d.Users[a], d.Users[b] = d.Users[b], d.Users[a] })
		for j := range d.Users {
			u := &d.Users[j]
			if i%2 == 1 {
				u.Email = strings.ToUpper(u.Email)
			}
			u.SessionsValidAfter = u.SessionsValidAfter.In(berlin)
		}
		if got := mustMarshal(t, d); !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d gives other bytes:\n%s\n%s", i, want, got)
		}
	}
	d := sample()
	mustMarshal(t, d)
	if d.Users[0].ID != "staff-123" || d.Users[0].Email != "Bob@Example.com" {
		t.Error("Marshal reordered or changed the directory it was given")
	}
}

func TestParseRefusesBrokenDirectories(t *testing.T) {
	data := mustMarshal(t, sample())
	edit := func(f func(users []any)) []byte {
		var w map[string]any
		if err := json.Unmarshal(data, &w); err != nil {
			t.Fatal(err)
		}
		f(w["users"].([]any))
		out, _ := json.Marshal(w)
		return out
	}
	user := func(users []any, i int) map[string]any { return users[i].(map[string]any) }
	cases := map[string]struct {
		data []byte
		want string
	}{
		"not JSON":                     {[]byte(`{"version":`), "not valid JSON (at byte 11)"},
		"not JSON after a hash":        {append(data[:len(data)-2:len(data)-2], '!'), "not valid JSON"},
		"a field of the wrong type":    {edit(func(u []any) { user(u, 0)["disabled"] = "yes" }), `"users.disabled" should be a bool`},
		"a time that is not RFC 3339":  {edit(func(u []any) { user(u, 0)["sessionsValidAfter"] = "yesterday" }), "not RFC 3339"},
		"a time zone beyond year 9999": {edit(func(u []any) { user(u, 0)["sessionsValidAfter"] = "9999-12-31T23:00:00-02:00" }), `user "admin-1" has a sessionsValidAfter outside the years`},
		"no version":                   {[]byte(`{"users":[]}`), `has version ""`},
		"an unknown version": {bytes.Replace(data, []byte(Version), []byte("userdir.auth.jack.io/v2"), 1),
			`has version "userdir.auth.jack.io/v2"; this program reads "userdir.auth.jack.io/v1"`},
		"two users with one id":        {edit(func(u []any) { user(u, 1)["id"] = "admin-1" }), `two users have the id "admin-1"`},
		"two emails differing in case": {edit(func(u []any) { user(u, 1)["email"] = "ALICE@example.COM" }), `users "admin-1" and "staff-123" have the same email "alice@example.com"`},
		"an unknown role":              {edit(func(u []any) { user(u, 0)["role"] = "root" }), `user "admin-1" has role "root"; it must be one of [admin manager staff]`},
		"a role in capitals":           {edit(func(u []any) { user(u, 0)["role"] = "Admin" }), `has role "Admin"`},
		"no role":                      {edit(func(u []any) { delete(user(u, 0), "role") }), `user "admin-1" has role ""`},
		"no id":                        {edit(func(u []any) { user(u, 0)["id"] = "" }), `user with email "alice@example.com" has no id`},
		"no email":                     {edit(func(u []any) { delete(user(u, 0), "email") }), `user "admin-1" has no email`},
		"no id and no email":           {edit(func(u []any) { user(u, 1)["id"], user(u, 1)["email"] = "", "" }), "user 1 of the directory has no id and no email"},
		"more than a reader accepts":   {append(data, bytes.Repeat([]byte(" "), maxJSONSize)...), "too large for a Secret"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error = %v, want one saying %q", err, tc.want)
			}
			for _, u := range sample().Users {
				if u.PasswordHash != "" && strings.Contains(err.Error(), strings.Split(u.PasswordHash, "$")[4]) {
					t.Errorf("the error quotes a password hash: %v", err)
				}
			}
		})
	}
}

func TestMarshalRefusesWhatParseRefuses(t *testing.T) {
	d := sample()
	d.Users[1].Email = "BOB@example.com"
	if _, err := d.Marshal(); err == nil || !strings.Contains(err.Error(), "same email") {
		t.Errorf("Marshal error = %v, want one about a shared email", err)
	}
}

func TestTheIndexFindsUsersByEmailAndID(t *testing.T) {
	d, err := Parse(mustMarshal(t, sample()))
	if err != nil {
		t.Fatal(err)
	}
	ix := d.Index()
	cases := map[string]struct {
		find   func() (*User, bool)
		wantID string // empty when nobody should be found
	}{
		"an email as written":           {func() (*User, bool) { return ix.ByEmail("alice@example.com") }, "admin-1"},
		"an email in other case":        {func() (*User, bool) { return ix.ByEmail("ALICE@Example.COM") }, "admin-1"},
		"an email written in capitals":  {func() (*User, bool) { return ix.ByEmail("bob@example.com") }, "staff-123"},
		"an unknown email":              {func() (*User, bool) { return ix.ByEmail("mallory@example.com") }, ""},
		"an empty email":                {func() (*User, bool) { return ix.ByEmail("") }, ""},
		"an id":                         {func() (*User, bool) { return ix.ByID("manager-7") }, "manager-7"},
		"an id is compared exactly":     {func() (*User, bool) { return ix.ByID("Manager-7") }, ""},
		"an email is not an id":         {func() (*User, bool) { return ix.ByID("alice@example.com") }, ""},
		"an id is not an email":         {func() (*User, bool) { return ix.ByEmail("admin-1") }, ""},
		"an index of no users is empty": {func() (*User, bool) { return (&Directory{}).Index().ByID("admin-1") }, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u, ok := tc.find()
			switch {
			case tc.wantID == "" && (ok || u != nil):
				t.Errorf("found %+v, want nobody", u)
			case tc.wantID != "" && (!ok || u == nil || u.ID != tc.wantID):
				t.Errorf("found %v, %v; want user %s", u, ok, tc.wantID)
			}
		})
	}
	if u, _ := ix.ByID("staff-123"); u.PasswordHash != fakeHash(2) || !u.Disabled || u.Role != jack.RoleStaff {
		t.Errorf("the indexed user lost fields: %+v", u)
	}
}

// realistic is a directory of n users with values of realistic length:
// emails like "first.last1234@example.com", a password hash at the default
// cost, a 16-character password version and a sessionsValidAfter for every
// user (the operator sets one at the first password change or disable).
func realistic(n int) *Directory {
	first := []string{"alice", "bob", "carol", "dmitri", "eve", "francesca", "gustavo", "hannah", "ibrahim", "julia"}
	last := []string{"nguyen", "smith", "garcia", "kowalski", "okafor", "tanaka", "johansson", "fernandes", "müller", "lee"}
	d := &Directory{Users: make([]User, 0, n)}
	for i := range n {
		role := jack.RoleStaff
		switch {
		case i%50 == 0:
			role = jack.RoleAdmin
		case i%10 == 0:
			role = jack.RoleManager
		}
		f, l := first[i%len(first)], last[i/len(first)%len(last)]
		d.Users = append(d.Users, User{
			ID:                 fmt.Sprintf("%s-%d", role, 100+i),
			Email:              fmt.Sprintf("%s.%s%d@example.com", f, l, i),
			Name:               strings.ToUpper(f[:1]) + f[1:] + " " + strings.ToUpper(l[:1]) + l[1:],
			Role:               role,
			PasswordHash:       fakeHash(i),
			PasswordVersion:    fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15),
			Disabled:           i%50 == 7,
			SessionsValidAfter: t0.Add(time.Duration(i) * time.Minute),
		})
	}
	return d
}

func TestFiveThousandRealisticUsersFitInASecret(t *testing.T) {
	if password.NeedsRehash(fakeHash(1), password.DefaultParams) {
		t.Fatal("the test's hashes are not in the real format at the default cost")
	}
	const n = 5000
	data, err := realistic(n).Encode()
	if err != nil {
		t.Fatalf("Encode of %d realistic users: %v", n, err)
	}
	t.Logf("%d realistic users take %d bytes encoded, %d per user", n, len(data), len(data)/n)
	if len(data) > MaxSize {
		t.Errorf("%d users take %d bytes, more than a Secret holds", n, len(data))
	}
	d, err := Decode(data)
	if err != nil || len(d.Users) != n {
		t.Fatalf("Decode = %v users, %v", d, err)
	}
	again, _ := d.Encode()
	if !bytes.Equal(again, data) {
		t.Error("encoding is not deterministic")
	}
}

// The operator must learn that a namespace outgrew its Secret from Encode,
// with the size, not from the API server.
func TestEncodeRefusesADirectoryTooLargeForASecret(t *testing.T) {
	const n = 20000
	_, err := realistic(n).Encode()
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "20000 users take") {
		t.Fatalf("Encode of %d realistic users: %v, want ErrTooLarge with the size", n, err)
	}
	t.Log(err)
}

func TestDecodeRefusesWhatIsNotADirectory(t *testing.T) {
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), maxJSONSize+10))
	_ = zw.Close()
	cases := map[string]struct {
		data []byte
		want string
	}{
		"plain JSON":                 {mustMarshal(t, sample()), "not gzip-compressed"},
		"gzip that inflates too far": {bomb.Bytes(), "inflates to more than"},
		"more than a Secret holds":   {bytes.Repeat([]byte{0x1f}, MaxSize+1), "a Secret holds at most"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(mustMarshal(f, sample()))
	f.Add(mustMarshal(f, &Directory{}))
	f.Add([]byte(`{"version":"userdir.auth.jack.io/v1","users":[{"id":"a","email":"A@B","role":"staff","sessionsValidAfter":"2026-01-01T00:00:00+05:00"}]}`))
	f.Add([]byte(`{"version":"userdir.auth.jack.io/v1","users":null}`))
	f.Add([]byte(`{"version":"userdir.auth.jack.io/v1","users":[{"id":"a","email":"İ","role":"admin"},{"id":"b","email":"i̇","role":"admin"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses must serialize, parse again, and then serialize to
		// the same bytes.
		out, err := d.Marshal()
		if err != nil {
			t.Fatalf("a parsed directory does not marshal: %v", err)
		}
		d2, err := Parse(out)
		if err != nil {
			t.Fatalf("a marshalled directory does not parse: %v\n%s", err, out)
		}
		again, err := d2.Marshal()
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("marshal after a round trip differs (%v):\n%s\n%s", err, out, again)
		}
		ix := d2.Index()
		for _, u := range d2.Users {
			if byEmail, ok := ix.ByEmail(u.Email); !ok || byEmail.ID != u.ID {
				t.Fatalf("the index does not find %q by email", u.ID)
			}
		}
	})
}
