package app

import (
	"strings"
	"testing"
	"time"
)

func TestTheLogoutConfirmTimeoutIsBetweenASecondAndAMinute(t *testing.T) {
	for name, tc := range map[string]struct {
		d  time.Duration
		ok bool
	}{
		"the default":        {defaultLogoutConfirmTimeout, true},
		"one second":         {time.Second, true},
		"one minute":         {time.Minute, true},
		"under a second":     {999 * time.Millisecond, false},
		"zero":               {0, false},
		"negative":           {-time.Second, false},
		"more than a minute": {time.Minute + time.Millisecond, false},
	} {
		t.Run(name, func(t *testing.T) {
			err := checkLogoutConfirmTimeout(tc.d)
			if (err == nil) != tc.ok {
				t.Fatalf("%s: error %v, want ok %v", tc.d, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "--logout-confirm-timeout") {
				t.Errorf("the error does not name the flag: %v", err)
			}
		})
	}
}
