package app

import (
	"flag"
	"net/http"
	"strings"
	"testing"
	"time"
)

func defaultLimits(t *testing.T) Limits {
	t.Helper()
	var l Limits
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	l.AddFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestTheDefaultLimitsAreValidAndApplied(t *testing.T) {
	l := defaultLimits(t)
	if err := l.Validate(); err != nil {
		t.Fatalf("the defaults are refused: %v", err)
	}
	var s http.Server
	l.ConfigureServer(&s)
	if s.ReadHeaderTimeout != 5*time.Second || s.IdleTimeout != time.Minute || s.MaxHeaderBytes != 64<<10 || s.ReadTimeout != 15*time.Second || s.WriteTimeout != 0 {
		t.Errorf("server limits: header %s, idle %s, header bytes %d, read %s, write %s", s.ReadHeaderTimeout, s.IdleTimeout, s.MaxHeaderBytes, s.ReadTimeout, s.WriteTimeout)
	}
	if o := l.RevocationOptions(); o.MaxEntries != 100_000 || o.MaxPerSubject != 1_000 {
		t.Errorf("revocation bounds %+v", o)
	}
}

func TestLimitsThatCannotWorkAreRefusedWithTheFlagNamed(t *testing.T) {
	cases := map[string]struct {
		change func(*Limits)
		want   string
	}{
		"no header deadline":          {func(l *Limits) { l.ReadHeaderTimeout = 0 }, "--read-header-timeout must be at least 1s"},
		"a body deadline under 1s":    {func(l *Limits) { l.BodyTimeout = 500 * time.Millisecond }, "--body-timeout must be at least 1s"},
		"no idle deadline":            {func(l *Limits) { l.IdleTimeout = -time.Second }, "--idle-timeout must be at least 1s"},
		"headers too small for a JWT": {func(l *Limits) { l.MaxHeaderBytes = 1024 }, "--max-header-bytes must be at least 4096"},
		"no connection at all":        {func(l *Limits) { l.MaxConnections = 0 }, "--max-connections must be at least 1"},
		"a client's share over all":   {func(l *Limits) { l.MaxConnectionsPerClient = 5000 }, "--max-connections-per-client (5000) must not exceed --max-connections (1024)"},
		"no connection per client":    {func(l *Limits) { l.MaxConnectionsPerClient = 0 }, "--max-connections-per-client must be at least 1"},
		"no revocation at all":        {func(l *Limits) { l.MaxRevocations = 0 }, "--max-revocations must be at least 1"},
		"a user's share over all":     {func(l *Limits) { l.MaxRevocations = 10 }, "--max-revocations-per-user (1000) must not exceed --max-revocations (10)"},
		"no revocation for a user":    {func(l *Limits) { l.MaxRevocationsPerUser = -1 }, "--max-revocations-per-user must be at least 1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l := defaultLimits(t)
			tc.change(&l)
			err := l.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
