package certs

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPlanThroughALifetime(t *testing.T) {
	r := rotate(t)
	s := settings()
	foreign := mustApply(t, nil, ActionCreate, s, start)
	// A serving certificate whose renewal point falls inside phase 1, and
	// one that expires inside it.
	dueInPhase1 := mustApply(t, mustApply(t, r.made, ActionIssueServing, s, r.t1.Add(-60*day+30*time.Minute)), ActionRotateCA, s, r.t1)
	// A serving certificate past its renewal point, not expired, at the
	// CA's renewal point.
	renewalDueAtCA := mustApply(t, r.made, ActionIssueServing, s, r.t1.Add(-70*day))
	withAddrsMade := mustApply(t, nil, ActionCreate, withAddrs(loopback), start)
	expiresInPhase1 := mustApply(t, mustApply(t, r.made, ActionIssueServing, s, r.t1.Add(-90*day+30*time.Minute)), ActionRotateCA, s, r.t1)

	cases := map[string]struct {
		bundle   *Bundle
		settings Settings
		at       time.Time
		action   Action
		reason   Reason
		// requeue, for ActionNone; an action is always followed by planning again at once.
		requeue time.Time
		// message, when set, is part of what the message must say.
		message string
	}{
		"an empty Secret gets a CA and a serving certificate": {
			bundle: nil, at: start,
			action: ActionCreate, reason: ReasonDoesNotExist,
		},
		"a new bundle needs nothing until its serving certificate's renewal point": {
			bundle: r.made, at: start.Add(time.Hour),
			action: ActionNone, reason: ReasonUpToDate, requeue: start.Add(60 * day),
		},
		"a serving certificate a second before two thirds of its life is kept": {
			bundle: r.made, at: start.Add(60*day - time.Second),
			action: ActionNone, reason: ReasonUpToDate, requeue: start.Add(60 * day),
		},
		"a serving certificate two thirds through its life is renewed from the same CA": {
			bundle: r.made, at: start.Add(60 * day),
			action: ActionIssueServing, reason: ReasonRenewing, message: "reached its renewal point",
		},
		"an expired serving certificate is replaced": {
			bundle: r.made, at: start.Add(90 * day),
			action: ActionIssueServing, reason: ReasonServingCertExpired, message: "expired at",
		},
		"a Secret that lost its serving certificate gets one from the same CA": {
			bundle: withoutServing(r.made), at: start.Add(time.Hour),
			action: ActionIssueServing, reason: ReasonServingCertMissing,
		},
		"a serving certificate from a CA not in ca.crt is replaced": {
			bundle: withServingFrom(r.made, foreign), at: start.Add(time.Hour),
			action: ActionIssueServing, reason: ReasonIncorrectIssuer,
		},
		"an added DNS name reissues the serving certificate at once": {
			bundle: r.made, settings: withNames(svc, svcCL, "jack-webhook.jack-system.svc"), at: start.Add(time.Hour),
			action: ActionIssueServing, reason: ReasonDNSNamesChanged, message: "lacks jack-webhook.jack-system.svc",
		},
		"a removed DNS name reissues it too": {
			bundle: r.made, settings: withNames(svc), at: start.Add(time.Hour),
			action: ActionIssueServing, reason: ReasonDNSNamesChanged, message: "no longer needs " + svcCL,
		},
		"DNS names in another order or case change nothing": {
			bundle: r.made, settings: withNames(strings.ToUpper(svcCL), svc, svc), at: start.Add(time.Hour),
			action: ActionNone, reason: ReasonUpToDate, requeue: start.Add(60 * day),
		},
		"an added IP address reissues the serving certificate at once": {
			bundle: r.made, settings: withAddrs(loopback), at: start.Add(time.Hour),
			action: ActionIssueServing, reason: ReasonIPAddressesChanged, message: "lacks 127.0.0.1",
		},
		"a removed IP address reissues it too": {
			bundle: withAddrsMade, at: start.Add(time.Hour),
			action: ActionIssueServing, reason: ReasonIPAddressesChanged, message: "no longer needs 127.0.0.1",
		},
		"an IPv4 address written as IPv6, or twice, changes nothing": {
			bundle: withAddrsMade, settings: withAddrs(netip.MustParseAddr("::ffff:127.0.0.1"), loopback), at: start.Add(time.Hour),
			action: ActionNone, reason: ReasonUpToDate, requeue: start.Add(60 * day),
		},
		"a DNS name and an IP address changed together are named as DNS names, with both changes said": {
			bundle: withAddrsMade, settings: Settings{DNSNames: []string{svc}, IPAddresses: []netip.Addr{netip.MustParseAddr("::1")}}, at: start.Add(time.Hour),
			action: ActionIssueServing, reason: ReasonDNSNamesChanged, message: "no longer needs " + svcCL + " and lacks ::1 and no longer needs 127.0.0.1",
		},
		"a CA a second before two thirds of its life is kept": {
			bundle: r.beforeCA, at: r.t1.Add(-time.Second),
			action: ActionNone, reason: ReasonUpToDate, requeue: r.t1,
		},
		"a CA two thirds through its life starts phase 1: a new CA next to it in ca.crt": {
			bundle: r.beforeCA, at: r.t1,
			action: ActionRotateCA, reason: ReasonCARenewing,
		},
		"a CA renewal goes before a serving renewal due at the same time, which phase 2 does": {
			bundle: renewalDueAtCA, at: r.t1,
			action: ActionRotateCA, reason: ReasonCARenewing,
		},
		"phase 1 waits out the overlap with both CAs in ca.crt": {
			bundle: r.phase1, at: r.t2.Add(-time.Second),
			action: ActionNone, reason: ReasonRotationInProgress, requeue: r.t2,
		},
		"phase 2 moves the serving certificate to the new CA one overlap after phase 1": {
			bundle: r.phase1, at: r.t2,
			action: ActionIssueServing, reason: ReasonNewCATrusted,
		},
		"in phase 1 a serving certificate due for renewal waits for phase 2": {
			bundle: dueInPhase1, at: r.t1.Add(45 * time.Minute),
			action: ActionNone, reason: ReasonRotationInProgress, requeue: r.t2, message: "renews it",
		},
		"in phase 1 a DNS name change waits for phase 2": {
			bundle: r.phase1, settings: withNames(svc), at: r.t1.Add(30 * time.Minute),
			action: ActionNone, reason: ReasonRotationInProgress, requeue: r.t2, message: "changes its DNS names",
		},
		"in phase 1 an IP address change waits for phase 2": {
			bundle: r.phase1, settings: withAddrs(loopback), at: r.t1.Add(30 * time.Minute),
			action: ActionNone, reason: ReasonRotationInProgress, requeue: r.t2, message: "changes its IP addresses",
		},
		"in phase 1 a serving certificate that expired is replaced from the new CA at once": {
			bundle: expiresInPhase1, at: r.t1.Add(30 * time.Minute),
			action: ActionIssueServing, reason: ReasonServingCertExpired,
		},
		"in phase 1 the wait ends early when the serving certificate expires": {
			bundle: expiresInPhase1, at: r.t1.Add(time.Minute),
			action: ActionNone, reason: ReasonRotationInProgress, requeue: r.t1.Add(30 * time.Minute),
		},
		"after phase 2 the previous CA stays another overlap": {
			bundle: r.phase2, at: r.t3.Add(-time.Second),
			action: ActionNone, reason: ReasonRotationInProgress, requeue: r.t3,
		},
		"phase 3 drops the previous CA one overlap after phase 2": {
			bundle: r.phase2, at: r.t3,
			action: ActionDropPreviousCA, reason: ReasonPreviousCAUnused,
		},
		"after phase 2 a DNS name change reissues at once from the new CA": {
			bundle: r.phase2, settings: withNames(svc), at: r.t2.Add(time.Minute),
			action: ActionIssueServing, reason: ReasonDNSNamesChanged,
		},
		"after phase 3 nothing is due until the new serving certificate's renewal point": {
			bundle: r.phase3, at: r.t3,
			action: ActionNone, reason: ReasonUpToDate, requeue: r.t2.Add(60 * day),
		},
		"an expired CA is replaced with everything it signed": {
			bundle: r.made, at: start.Add(365 * day),
			action: ActionCreate, reason: ReasonCAExpired, message: "expired at",
		},
		"a CA not valid yet, because the clock moved back, is replaced": {
			bundle: r.made, at: start.Add(-2 * time.Hour),
			action: ActionCreate, reason: ReasonCAExpired, message: "clock moved back",
		},
		"settings without DNS names make nothing, and nothing is due until they change": {
			bundle: nil, settings: Settings{DNSNames: []string{}}, at: start,
			action: ActionNone, reason: ReasonInvalidSettings,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			want := tc.settings
			if want.DNSNames == nil {
				want = s
			}
			d := Plan(tc.bundle, want, tc.at)
			if d.Action != tc.action || d.Reason != tc.reason {
				t.Fatalf("Plan = %s (%s), want %s (%s): %s", d.Action, d.Reason, tc.action, tc.reason, d.Message)
			}
			wantRequeue := tc.requeue
			if tc.action != ActionNone {
				wantRequeue = tc.at
			}
			if !d.RequeueAt.Equal(wantRequeue) {
				t.Errorf("RequeueAt = %s, want %s", stamp(d.RequeueAt), stamp(wantRequeue))
			}
			if !strings.Contains(d.Message, tc.message) {
				t.Errorf("message %q does not say %q", d.Message, tc.message)
			}
			if d.Message == "" {
				t.Error("the decision has no message")
			}
		})
	}
}

func TestPlanIsPure(t *testing.T) {
	r := rotate(t)
	before := r.phase1.SecretData()
	first := Plan(r.phase1, settings(), r.t2)
	again := Plan(r.phase1, settings(), r.t2)
	if first != again {
		t.Errorf("the same inputs planned twice gave %+v, then %+v", first, again)
	}
	for k, v := range r.phase1.SecretData() {
		if string(before[k]) != string(v) {
			t.Errorf("Plan changed the bundle's %s", k)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	cases := map[string]struct {
		settings Settings
		wantErr  string
	}{
		"DNS names alone take the defaults": {
			settings: settings(),
		},
		"an overlap of exactly a sixth of both validities is allowed": {
			settings: Settings{DNSNames: []string{svc}, CAValidity: 6 * day, ServingValidity: 6 * day, Overlap: day},
		},
		"no DNS names are refused": {
			settings: Settings{}, wantErr: "no DNS names",
		},
		"a name with a space is not a DNS name": {
			settings: withNames("webhook service.jack-system.svc"), wantErr: "not a DNS name",
		},
		"a label ending with a hyphen is not a DNS name": {
			settings: withNames("webhook-.jack-system.svc"), wantErr: "not a DNS name",
		},
		"IP addresses next to the DNS names are allowed": {
			settings: withAddrs(loopback, netip.MustParseAddr("::1")),
		},
		"an IP address left empty is refused": {
			settings: withAddrs(netip.Addr{}), wantErr: "empty",
		},
		"an IPv6 address with a zone is refused": {
			settings: withAddrs(netip.MustParseAddr("fe80::1%eth0")), wantErr: "zone",
		},
		"an overlap longer than a sixth of the serving validity is refused": {
			settings: Settings{DNSNames: []string{svc}, ServingValidity: 6 * day, Overlap: day + time.Second}, wantErr: "sixth",
		},
		"a negative validity is refused": {
			settings: Settings{DNSNames: []string{svc}, CAValidity: -day}, wantErr: "positive",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.settings.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}
