package session

import (
	"errors"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/api/jack"
	"github.com/jack-io/jack-operator/sidecar/internal/token"
)

// now is when the tables happen; the session began two days before.
var (
	now   = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	login = now.Add(-48 * time.Hour)
)

const sid = "BBBBBBBBBBBBBBBBBBBBBB"

// tok is a token of the session, of generation gen, issued a minute ago.
func tok(gen int64) token.Claims {
	iat := now.Add(-time.Minute)
	return token.Claims{
		Subject: "staff-123", ID: "AAAAAAAAAAAAAAAAAAAAAA",
		IssuedAt: iat, NotBefore: iat, ExpiresAt: iat.Add(24 * time.Hour),
		SessionID: sid, AuthTime: login, SessionGeneration: gen,
	}
}

// sessionless is a token issued before sessions existed.
func sessionless() token.Claims {
	c := tok(0)
	c.SessionID, c.AuthTime = "", time.Time{}
	return c
}

// rec is a Record of generation gen whose grace ends at grace. It covers
// a token later than tok's: one refreshed elsewhere, or signed when the
// ring's token lifetime was longer.
func rec(gen int64, grace time.Time) Record {
	return Record{Generation: gen, GraceUntil: grace, ExpiresAt: now.Add(30 * time.Hour)}
}

func ended(r Record, why string) Record {
	r.Ended, r.EndedBecause = true, why
	return r
}

func TestCheck(t *testing.T) {
	grace := now.Add(5 * time.Second)
	cases := map[string]struct {
		rec  Record
		c    token.Claims
		now  time.Time
		want Verdict
	}{
		"a token without a session, whatever the record says":      {ended(rec(5, grace), jack.SessionEndedByLogout), sessionless(), now, Accept},
		"the login's token of a session without a TokenRevocation": {Record{}, tok(0), now, Accept},
		"the newest token": {rec(3, grace), tok(3), now, Accept},
		"a token newer than the record, which the watch has not brought yet": {rec(3, grace), tok(4), now, Accept},
		"a token of a session whose record the watch has not brought yet":    {Record{}, tok(6), now, Accept},
		"a token far newer than the record":                                  {rec(3, grace), tok(40), now, Accept},
		"the superseded token, within its grace":                             {rec(3, grace), tok(2), now, Accept},
		"the superseded token, a nanosecond before its grace ends":           {rec(3, grace), tok(2), grace.Add(-time.Nanosecond), Accept},
		"the superseded token, exactly when its grace ends":                  {rec(3, grace), tok(2), grace, ReuseDetected},
		"the superseded token, after its grace":                              {rec(3, grace), tok(2), grace.Add(time.Hour), ReuseDetected},
		"the superseded token of a record without a grace":                   {rec(3, time.Time{}), tok(2), now, ReuseDetected},
		"a token two generations old, within the grace of the one after it":  {rec(3, grace), tok(1), now, ReuseDetected},
		"the login's token, many refreshes later":                            {rec(9, grace), tok(0), now, ReuseDetected},
		"the newest token of a session logged out":                           {ended(rec(3, grace), jack.SessionEndedByLogout), tok(3), now, RefuseEnded},
		"a token newer than the record of a session logged out":              {ended(rec(3, grace), jack.SessionEndedByLogout), tok(4), now, RefuseEnded},
		"the superseded token of a session logged out, within its grace":     {ended(rec(3, grace), jack.SessionEndedByLogout), tok(2), now, RefuseEnded},
		"an old token of a session already ended for its reuse":              {ended(rec(3, grace), jack.SessionEndedByTokenReuse), tok(0), now, RefuseEnded},
		"the login's token of a session logged out before any refresh":       {ended(Record{}, jack.SessionEndedByLogout), tok(0), now, RefuseEnded},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Check(tc.rec, tc.c, tc.now); got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	const week = 7 * 24 * time.Hour
	grace := now.Add(5 * time.Second)
	exp := tok(0).ExpiresAt
	regraced := func(gen int64, at time.Time, expires time.Time) Record {
		return Record{Generation: gen, GraceUntil: at.Add(jack.RefreshGrace), ExpiresAt: expires}
	}
	into := func(gen int64) token.Session { return token.Session{ID: sid, AuthTime: login, Generation: gen} }
	withExpiry := func(c token.Claims, e time.Time) token.Claims { c.ExpiresAt = e; return c }
	withIAT := func(c token.Claims, iat time.Time) token.Claims { c.IssuedAt = iat; return c }

	cases := map[string]struct {
		rec      Record
		c        token.Claims
		now      time.Time
		lifetime time.Duration
		want     Record
		session  token.Session
		err      error
	}{
		"the login's token, of a session without a TokenRevocation": {
			Record{}, tok(0), now, week, regraced(1, now, exp), into(1), nil,
		},
		"the newest token: one generation up, and its grace starts": {
			rec(3, grace), tok(3), now, week, regraced(4, now, now.Add(30*time.Hour)), into(4), nil,
		},
		"a token newer than the record the watch brought: one up from the token": {
			rec(2, grace), tok(5), now, week, regraced(6, now, now.Add(30*time.Hour)), into(6), nil,
		},
		"the superseded token within its grace, refreshed again: another of the newest, the grace unchanged": {
			rec(4, grace), tok(3), now, week, rec(4, grace), into(4), nil,
		},
		"the superseded token, refreshed a second before its grace ends": {
			rec(4, grace), tok(3), grace.Add(-time.Second), week, rec(4, grace), into(4), nil,
		},
		"the superseded token, refreshed exactly when its grace ends": {
			rec(4, grace), tok(3), grace, week, rec(4, grace), token.Session{}, ErrReused,
		},
		"a token two generations old": {
			rec(4, grace), tok(2), now, week, rec(4, grace), token.Session{}, ErrReused,
		},
		"a token of a session logged out": {
			ended(rec(4, grace), jack.SessionEndedByLogout), tok(4), now, week, ended(rec(4, grace), jack.SessionEndedByLogout), token.Session{}, ErrEnded,
		},
		"an old token of a session logged out: ended, not reused again": {
			ended(rec(4, grace), jack.SessionEndedByLogout), tok(0), now, week, ended(rec(4, grace), jack.SessionEndedByLogout), token.Session{}, ErrEnded,
		},
		"a second before the session's end": {
			Record{}, tok(0), login.Add(week - time.Second), week, regraced(1, login.Add(week-time.Second), exp), into(1), nil,
		},
		"exactly at the session's end": {
			Record{}, tok(0), login.Add(week), week, Record{}, token.Session{}, token.ErrSessionOver,
		},
		"a reused token at the session's end: the reuse is what counts": {
			rec(4, grace), tok(1), login.Add(week), week, rec(4, grace), token.Session{}, ErrReused,
		},
		"no lifetime: 720h, a second before its end": {
			Record{}, tok(0), login.Add(jack.DefaultSessionLifetime - time.Second), 0,
			regraced(1, login.Add(jack.DefaultSessionLifetime-time.Second), exp), into(1), nil,
		},
		"no lifetime: 720h, at its end": {
			Record{}, tok(0), login.Add(jack.DefaultSessionLifetime), 0, Record{}, token.Session{}, token.ErrSessionOver,
		},
		"a lifetime of two days, already spent": {
			Record{}, tok(0), now, 48 * time.Hour, Record{}, token.Session{}, token.ErrSessionOver,
		},
		"the highest generation cannot go one up": {
			rec(token.MaxSessionGeneration, grace), tok(token.MaxSessionGeneration), now, week,
			rec(token.MaxSessionGeneration, grace), token.Session{}, token.ErrSessionOver,
		},
		"the grace is rounded up to the second the TokenRevocation keeps": {
			Record{}, tok(0), now.Add(300 * time.Millisecond), week, regraced(1, now.Add(time.Second), exp), into(1), nil,
		},
		"a record that covers a later token keeps its expiry": {
			rec(3, grace), withExpiry(tok(3), now.Add(time.Hour)), now, week, regraced(4, now, now.Add(30*time.Hour)), into(4), nil,
		},
		"a token expiring after what the record covers moves it": {
			rec(3, grace), withExpiry(tok(3), now.Add(40*time.Hour)), now, week, regraced(4, now, now.Add(40*time.Hour)), into(4), nil,
		},
		"a token without a session starts one at its iat, with no record to write": {
			Record{}, sessionless(), now, week, Record{}, token.Session{AuthTime: now.Add(-time.Minute)}, nil,
		},
		"a token without a session ignores any record": {
			ended(rec(4, grace), jack.SessionEndedByLogout), sessionless(), now, week, Record{}, token.Session{AuthTime: now.Add(-time.Minute)}, nil,
		},
		"a token without a session, issued a lifetime ago": {
			Record{}, withIAT(sessionless(), now.Add(-week)), now, week, Record{}, token.Session{}, token.ErrSessionOver,
		},
		"a token without a session nor iat: its login cannot be placed": {
			Record{}, withIAT(sessionless(), time.Time{}), now, week, Record{}, token.Session{}, token.ErrSessionOver,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, s, err := Refresh(tc.rec, tc.c, tc.now, tc.lifetime)
			if !errors.Is(err, tc.err) || tc.err == nil && err != nil {
				t.Fatalf("Refresh = %v, want %v", err, tc.err)
			}
			if err != nil {
				if s != (token.Session{}) {
					t.Errorf("Refresh refused, but returned session %+v", s)
				}
				return
			}
			if got != tc.want {
				t.Errorf("Refresh records\n%+v, want\n%+v", got, tc.want)
			}
			if s != tc.session {
				t.Errorf("Refresh signs into %+v, want %+v", s, tc.session)
			}
		})
	}
}

func TestEnding(t *testing.T) {
	grace := now.Add(5 * time.Second)
	laterToken := tok(3)
	laterToken.ExpiresAt = now.Add(40 * time.Hour)
	cases := map[string]struct {
		end  func(Record, token.Claims) Record
		rec  Record
		c    token.Claims
		want Record
	}{
		"a logout of a session without a TokenRevocation": {
			Logout, Record{}, tok(0), Record{Ended: true, EndedBecause: jack.SessionEndedByLogout, ExpiresAt: tok(0).ExpiresAt},
		},
		"a logout keeps the generation and grace, and the later expiry the record covers": {
			Logout, rec(3, grace), tok(3), ended(rec(3, grace), jack.SessionEndedByLogout),
		},
		"a logout with a token expiring after what the record covers": {
			Logout, rec(3, grace), laterToken, Record{Ended: true, EndedBecause: jack.SessionEndedByLogout, Generation: 3, GraceUntil: grace, ExpiresAt: now.Add(40 * time.Hour)},
		},
		"a logout of a session ended for reuse keeps that reason": {
			Logout, ended(rec(3, grace), jack.SessionEndedByTokenReuse), tok(3), ended(rec(3, grace), jack.SessionEndedByTokenReuse),
		},
		"a logout twice is the same record": {
			Logout, ended(rec(3, grace), jack.SessionEndedByLogout), tok(3), ended(rec(3, grace), jack.SessionEndedByLogout),
		},
		"a reuse ends the session for it": {
			EndForReuse, rec(3, grace), tok(1), ended(rec(3, grace), jack.SessionEndedByTokenReuse),
		},
		"a reuse of a session logged out keeps the logout": {
			EndForReuse, ended(rec(3, grace), jack.SessionEndedByLogout), tok(1), ended(rec(3, grace), jack.SessionEndedByLogout),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := tc.end(tc.rec, tc.c)
			if got != tc.want {
				t.Errorf("got\n%+v, want\n%+v", got, tc.want)
			}
			if Check(got, tc.c, now) != RefuseEnded {
				t.Errorf("the ended session still lets its token through")
			}
		})
	}
}

func TestMerge(t *testing.T) {
	early, late := now.Add(5*time.Second), now.Add(8*time.Second)
	cases := map[string]struct {
		stored, mine, want Record
	}{
		"nothing stored": {Record{}, rec(1, early), rec(1, early)},
		"mine newer: its generation and grace": {
			rec(2, early), rec(3, late), rec(3, late),
		},
		"stored newer: a refresh elsewhere won": {
			rec(3, early), rec(2, late), rec(3, early),
		},
		"the same generation twice: the later grace": {
			rec(3, early), rec(3, late), rec(3, late),
		},
		"the same generation twice, mine graced earlier": {
			rec(3, late), rec(3, early), rec(3, late),
		},
		"a logout onto a newer generation": {
			rec(5, late), ended(rec(3, early), jack.SessionEndedByLogout), ended(rec(5, late), jack.SessionEndedByLogout),
		},
		"an ended session stays ended for its first reason": {
			ended(rec(3, early), jack.SessionEndedByTokenReuse), ended(rec(3, early), jack.SessionEndedByLogout), ended(rec(3, early), jack.SessionEndedByTokenReuse),
		},
		"an ended session is never resumed by a refresh written late": {
			ended(rec(3, early), jack.SessionEndedByLogout), rec(4, late), ended(rec(4, late), jack.SessionEndedByLogout),
		},
		"the later expiry": {
			Record{Generation: 3, GraceUntil: early, ExpiresAt: now.Add(time.Hour)},
			Record{Generation: 2, GraceUntil: late, ExpiresAt: now.Add(2 * time.Hour)},
			Record{Generation: 3, GraceUntil: early, ExpiresAt: now.Add(2 * time.Hour)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Merge(tc.stored, tc.mine)
			if got != tc.want {
				t.Errorf("Merge =\n%+v, want\n%+v", got, tc.want)
			}
			// Only ever stricter than what is stored, as the API server
			// requires.
			if got.Generation < tc.stored.Generation || tc.stored.Ended && !got.Ended || got.ExpiresAt.Before(tc.stored.ExpiresAt) {
				t.Errorf("Merge went back from what is stored: %+v", got)
			}
			// What was merged holds both, so neither writer has more to
			// write, and a sidecar holding it acts on both.
			if !got.Holds(tc.stored) || !got.Holds(tc.mine) {
				t.Errorf("Merge = %+v does not hold both of what it merged", got)
			}
		})
	}
}

func TestHolds(t *testing.T) {
	early, late := now.Add(5*time.Second), now.Add(8*time.Second)
	for name, tc := range map[string]struct {
		r, o Record
		want bool
	}{
		"the same record":                              {rec(3, early), rec(3, early), true},
		"the same instants in another time zone":       {rec(3, early), rec(3, early.In(time.FixedZone("CET", 3600))), true},
		"anything holds the zero Record":               {rec(1, early), Record{}, true},
		"the zero Record holds only the zero Record":   {Record{}, rec(1, early), false},
		"a newer generation holds an older one":        {rec(4, early), rec(3, late), true},
		"an older generation does not hold a newer":    {rec(3, late), rec(4, early), false},
		"the same generation with an earlier grace":    {rec(3, early), rec(3, late), false},
		"an ended session holds the same one, running": {ended(rec(3, early), jack.SessionEndedByLogout), rec(3, early), true},
		"a running session does not hold its end":      {rec(3, early), ended(rec(3, early), jack.SessionEndedByLogout), false},
		"an end for another reason is held as it is":   {ended(rec(3, early), jack.SessionEndedByTokenReuse), ended(rec(3, early), jack.SessionEndedByLogout), true},
		"an earlier expiry does not hold a later one":  {rec(3, early), rec(3, early).Covering(now.Add(40 * time.Hour)), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.r.Holds(tc.o); got != tc.want {
				t.Errorf("Holds = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoginTime(t *testing.T) {
	for name, tc := range map[string]struct {
		c    token.Claims
		want time.Time
	}{
		"a token of a session: its auth_time, not its iat": {tok(4), login},
		"a token without a session: its iat":               {sessionless(), now.Add(-time.Minute)},
		"a token without a session nor iat":                {token.Claims{Subject: "staff-123"}, time.Time{}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := LoginTime(tc.c); !got.Equal(tc.want) {
				t.Errorf("LoginTime = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVerdictNames(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range []Verdict{Accept, RefuseEnded, ReuseDetected, Verdict(99)} {
		if s := v.String(); s == "" || seen[s] {
			t.Errorf("Verdict %d is named %q, empty or taken", int(v), s)
		} else {
			seen[s] = true
		}
	}
}
