package apikeys

import (
	"testing"
	"time"
)

func TestDecideWhetherAKnownValueAuthenticates(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		key  Key
		v    Value
		want Outcome
	}{
		"a current value of a key without expiry": {Key{}, Value{}, Allowed},
		"before spec.expires":                     {Key{Expires: now.Add(time.Second)}, Value{}, Allowed},
		"at spec.expires":                         {Key{Expires: now}, Value{}, Expired},
		"disabled and expired says disabled":      {Key{Disabled: true, Expires: now.Add(-time.Hour)}, Value{}, Disabled},
		"a previous value within its overlap":     {Key{}, Value{Previous: true, ValidUntil: now.Add(time.Second)}, Allowed},
		"a previous value at its validUntil":      {Key{}, Value{Previous: true, ValidUntil: now}, Expired},
		"a previous value without validUntil":     {Key{}, Value{Previous: true}, Expired},
		"a previous value of a disabled key":      {Key{Disabled: true}, Value{Previous: true, ValidUntil: now.Add(time.Hour)}, Disabled},
	} {
		t.Run(name, func(t *testing.T) {
			tc.v.Key = &tc.key
			if got := Decide(tc.v, now); got != tc.want {
				t.Errorf("Decide = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAUsageKeepsItsBucketWhileTheLimitIsTheSame(t *testing.T) {
	now := time.Now()
	u := NewUsage()
	NewKey(Spec{ID: "a", RateLimit: RateLimit{PerSecond: 1}}, u)
	if ok, _ := u.Take(now); !ok {
		t.Fatal("the first request is refused")
	}
	NewKey(Spec{ID: "a", RateLimit: RateLimit{PerSecond: 1}}, u) // a rebuild of the index
	if ok, wait := u.Take(now); ok || wait != time.Second {
		t.Fatalf("a rebuild gave the key a fresh burst (ok %v, wait %s)", ok, wait)
	}
	NewKey(Spec{ID: "a", RateLimit: RateLimit{PerSecond: 5, Burst: 5}}, u) // a new limit: a new bucket
	if ok, _ := u.Take(now); !ok {
		t.Fatal("a new limit kept the old bucket")
	}
	NewKey(Spec{ID: "a"}, u) // no limit
	for range 100 {
		if ok, _ := u.Take(now); !ok {
			t.Fatal("a key without a limit is limited")
		}
	}
}

func TestUsedReportsTheFirstUseOfEachHour(t *testing.T) {
	u := NewUsage()
	t0 := time.Date(2026, 5, 1, 12, 59, 0, 0, time.UTC)
	if !u.Used(t0) || u.Used(t0.Add(30*time.Second)) || !u.Used(t0.Add(time.Minute)) || u.Used(t0) {
		t.Fatal("Used does not report exactly the first use of each hour")
	}
	if got := u.LastUsed(); !got.Equal(time.Date(2026, 5, 1, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("LastUsed = %v", got)
	}
}
