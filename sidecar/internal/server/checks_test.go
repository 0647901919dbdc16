package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jack-io/jack-operator/internal/testsupport/poll"
)

// loginAnswer is what serve returned to a login run in the background.
type loginAnswer struct {
	w   *httptest.ResponseRecorder
	env envelope
	at  time.Time
}

// loginInBackground sends a good login from its own address and returns
// where its loginAnswer will come.
func loginInBackground(t *testing.T, h http.Handler, ctx context.Context, client string) <-chan loginAnswer {
	t.Helper()
	got := make(chan loginAnswer, 1)
	r := request("POST", "/api/v1/auth/login", "Content-Type", "application/json").WithContext(ctx)
	r.Body = ioNopCloser(`{"email":"staff@example.com","password":"a team password"}`)
	go func() {
		w, env := serve(t, h, r, client)
		got <- loginAnswer{w, env, time.Now()}
	}()
	return got
}

func waitAnswer(t *testing.T, got <-chan loginAnswer) loginAnswer {
	t.Helper()
	select {
	case a := <-got:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("the login was not answered within 30s")
		return loginAnswer{}
	}
}

// holdAll takes every slot, as that many long password checks would.
func holdAll(t *testing.T, p *PasswordChecks) {
	t.Helper()
	for range p.Slots() {
		if ok, busy := p.acquire(context.Background()); !ok {
			t.Fatalf("a free slot was refused: %v", busy)
		}
	}
}

func TestALoginPastTheSlotsWaitsThenIsToldItIsBusy(t *testing.T) {
	const wait = 300 * time.Millisecond
	tm := newTeam(t)
	checks := NewPasswordChecks(PasswordCheckOptions{Slots: 2, MaxWait: wait})
	h := newServer(t, tm, Config{PasswordChecks: checks})
	holdAll(t, checks)

	start := time.Now()
	got := loginInBackground(t, h, context.Background(), "192.0.2.3:1")
	poll.True(t, 10*time.Second, "the third login waits for a slot", func() bool { return checks.waiting.Load() == 1 })
	a := waitAnswer(t, got)
	if a.w.Code != http.StatusServiceUnavailable || a.env.Success || a.env.Error.Code != "LOGIN_BUSY" || a.env.Error.Message == "" {
		t.Fatalf("the login past the slots answered %d %+v; want 503 LOGIN_BUSY in the envelope", a.w.Code, a.env)
	}
	if ra := a.w.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	if waited := a.at.Sub(start); waited < wait {
		t.Errorf("answered after %s, before its wait of %s ended", waited, wait)
	}
	if n := checks.waiting.Load(); n != 0 {
		t.Errorf("%d logins still counted as waiting", n)
	}

	// The slots were never taken from the holders; one given back serves
	// the next login.
	checks.release()
	if a := waitAnswer(t, loginInBackground(t, h, context.Background(), "192.0.2.4:1")); a.w.Code != http.StatusOK {
		t.Fatalf("with a slot free the login answered %d %+v", a.w.Code, a.env)
	}
}

func TestAWaitingLoginIsServedWhenASlotFrees(t *testing.T) {
	tm := newTeam(t)
	checks := NewPasswordChecks(PasswordCheckOptions{Slots: 1, MaxWait: time.Minute})
	h := newServer(t, tm, Config{PasswordChecks: checks})
	holdAll(t, checks)

	got := loginInBackground(t, h, context.Background(), "192.0.2.5:1")
	poll.True(t, 10*time.Second, "the second login waits for a slot", func() bool { return checks.waiting.Load() == 1 })
	select {
	case a := <-got:
		t.Fatalf("the login was answered (%d %+v) while every slot was held", a.w.Code, a.env)
	default:
	}
	checks.release()
	if a := waitAnswer(t, got); a.w.Code != http.StatusOK || !a.env.Success {
		t.Fatalf("once a slot freed the waiting login answered %d %+v; want 200", a.w.Code, a.env)
	}
}

func TestALoginPastTheSlotsIsToldItIsBusyWhenItsContextsDeadlinePasses(t *testing.T) {
	tm := newTeam(t)
	checks := NewPasswordChecks(PasswordCheckOptions{Slots: 1, MaxWait: time.Hour})
	h := newServer(t, tm, Config{PasswordChecks: checks})
	holdAll(t, checks)

	deadline := time.Now().Add(300 * time.Millisecond)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	got := loginInBackground(t, h, ctx, "192.0.2.10:1")
	poll.True(t, 10*time.Second, "the second login waits for a slot", func() bool { return checks.waiting.Load() == 1 })
	a := waitAnswer(t, got)
	if a.w.Code != http.StatusServiceUnavailable || a.env.Error.Code != "LOGIN_BUSY" || a.w.Header().Get("Retry-After") != "1" {
		t.Fatalf("the login whose deadline passed answered %d %+v (Retry-After %q); want 503 LOGIN_BUSY with Retry-After 1",
			a.w.Code, a.env, a.w.Header().Get("Retry-After"))
	}
	if a.at.Before(deadline) {
		t.Errorf("answered %s before its deadline", deadline.Sub(a.at))
	}
	if n, held := checks.waiting.Load(), len(checks.slots); n != 0 || held != 1 {
		t.Errorf("%d waiting and %d slots held after the answer; want 0 and the 1 held by the test", n, held)
	}
}

func TestALoginWhoseClientLeavesStopsWaitingAndHoldsNoSlot(t *testing.T) {
	tm := newTeam(t)
	checks := NewPasswordChecks(PasswordCheckOptions{Slots: 1, MaxWait: time.Minute})
	h := newServer(t, tm, Config{PasswordChecks: checks})
	holdAll(t, checks)

	ctx, cancel := context.WithCancel(context.Background())
	got := loginInBackground(t, h, ctx, "192.0.2.6:1")
	poll.True(t, 10*time.Second, "the login waits for a slot", func() bool { return checks.waiting.Load() == 1 })
	cancel()
	if a := waitAnswer(t, got); a.env.Success || a.env.Error.Code == "LOGIN_BUSY" {
		t.Errorf("a login whose client left was answered %d %+v", a.w.Code, a.env)
	}
	if n, held := checks.waiting.Load(), len(checks.slots); n != 0 || held != 1 {
		t.Errorf("%d waiting and %d slots held after the client left; want 0 and the 1 held by the test", n, held)
	}
}

func TestNoWaitAnswersAtOnceWhenEverySlotIsBusy(t *testing.T) {
	tm := newTeam(t)
	checks := NewPasswordChecks(PasswordCheckOptions{Slots: 1, MaxWait: 0})
	h := newServer(t, tm, Config{PasswordChecks: checks})
	holdAll(t, checks)
	a := waitAnswer(t, loginInBackground(t, h, context.Background(), "192.0.2.7:1"))
	if a.w.Code != http.StatusServiceUnavailable || a.env.Error.Code != "LOGIN_BUSY" {
		t.Fatalf("answered %d %+v; want 503 LOGIN_BUSY", a.w.Code, a.env)
	}
}

func TestTheMemoryOfABurstIsReturnedOnceChecksAreIdle(t *testing.T) {
	tm := newTeam(t)
	checks := NewPasswordChecks(PasswordCheckOptions{Slots: 2, MaxWait: 0, IdleAfter: 20 * time.Millisecond, FreeEvery: time.Hour})
	freed := make(chan struct{}, 4)
	checks.free = func() { freed <- struct{}{} }
	h := newServer(t, tm, Config{PasswordChecks: checks})

	// A check still running keeps the memory: only the last release arms
	// the return.
	holdAll(t, checks)
	if a := waitAnswer(t, loginInBackground(t, h, context.Background(), "192.0.2.8:1")); a.w.Code != http.StatusServiceUnavailable {
		t.Fatalf("answered %d with every slot held", a.w.Code)
	}
	checks.release()
	if a := waitAnswer(t, loginInBackground(t, h, context.Background(), "192.0.2.9:1")); a.w.Code != http.StatusOK {
		t.Fatalf("answered %d %+v", a.w.Code, a.env)
	}
	if checks.timer != nil {
		t.Fatal("the return of memory was armed while a check was still running")
	}
	checks.release()
	select {
	case <-freed:
	case <-time.After(10 * time.Second):
		t.Fatal("the memory was not returned once no check ran")
	}
	if n := checks.frees.Load(); n != 1 {
		t.Errorf("jack_sidecar_memory_returned_total counts %d returns, want 1", n)
	}
}
