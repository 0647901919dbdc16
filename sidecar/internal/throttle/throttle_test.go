package throttle

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

func TestABurstIsAllowedThenTheKeyWaits(t *testing.T) {
	l := New(30*time.Second, 3, 100)
	for i := range 3 {
		if ok, _ := l.Take("alice@example.com", t0); !ok {
			t.Fatalf("attempt %d of a burst of 3 was refused", i+1)
		}
	}
	ok, wait := l.Take("alice@example.com", t0)
	if ok || wait != 30*time.Second {
		t.Fatalf("the 4th attempt: ok=%v wait=%v, want refused for 30s", ok, wait)
	}
	if ok, _ := l.Check("alice@example.com", t0.Add(29*time.Second)); ok {
		t.Error("allowed before a token was back")
	}
	if ok, _ := l.Check("alice@example.com", t0.Add(30*time.Second)); !ok {
		t.Error("refused after a token was back")
	}
	if ok, _ := l.Take("bob@example.com", t0); !ok {
		t.Error("another key was throttled")
	}
}

func TestCheckSpendsNothing(t *testing.T) {
	l := New(time.Minute, 1, 100)
	for range 10 {
		if ok, _ := l.Check("k", t0); !ok {
			t.Fatal("Check spent a token")
		}
	}
}

func TestFloodingWithNewKeysDoesNotResetAThrottledKey(t *testing.T) {
	l := New(time.Minute, 2, 10)
	l.Take("victim", t0)
	l.Take("victim", t0)
	for i := range 1000 {
		l.Take(fmt.Sprint("spray-", i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if ok, _ := l.Check("victim", t0.Add(2*time.Second)); ok {
		t.Fatal("a flood of other keys reset the throttled key")
	}
}

func TestIdleKeysAreForgottenPastTheBound(t *testing.T) {
	l := New(time.Second, 1, 10)
	for i := range 100 {
		l.Take(fmt.Sprint("k", i), t0.Add(time.Duration(i)*10*time.Second))
	}
	if n := l.Len(); n > 11 {
		t.Errorf("%d keys held, want at most about the bound of 10", n)
	}
}
