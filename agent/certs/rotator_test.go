package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/clocktest"
)

var ctx = context.Background()

// The current pair of a rig is valid from t0-1h for 90 days.
const life = 90*24*time.Hour + time.Hour

// TestRenewalStartsWithinTheWindow drives the rotator's clock: nothing
// happens before the drawn point, which lies between 70% and 90% of the
// lifetime, and the CSR goes out at it.
func TestRenewalStartsWithinTheWindow(t *testing.T) {
	for _, tt := range []struct{ draw, share float64 }{{0, 0.70}, {0.25, 0.75}, {0.5, 0.80}, {0.999, 0.8998}} {
		draw := tt.draw
		rg := newRig(t, func(c *RotatorConfig) { c.Rand = func() float64 { return draw } })
		// The share of the lifetime, to the millisecond (float rounding).
		want := rg.r.Status().RenewAt
		if exact := t0.Add(-time.Hour).Add(time.Duration(float64(life) * tt.share)); want.Sub(exact).Abs() > time.Millisecond {
			t.Errorf("draw %v: RenewAt %v, want %v (%.2f%% of the lifetime)", draw, want, exact, 100*tt.share)
		}
		// Early: no CSR, and the rotator sleeps until the renewal point.
		for _, now := range []time.Time{t0, t0.Add(30 * 24 * time.Hour), want.Add(-time.Second)} {
			if wake := rg.r.step(ctx, now); !wake.Equal(want) {
				t.Errorf("draw %v: step(%v) sleeps until %v, want %v", draw, now, wake, want)
			}
		}
		if n := len(rg.csrs()); n != 0 {
			t.Fatalf("draw %v: %d CSRs before the renewal point", draw, n)
		}
		rg.r.step(ctx, want)
		csrs := rg.csrs()
		if len(csrs) != 1 {
			t.Fatalf("draw %v: %d CSRs at the renewal point, want 1", draw, len(csrs))
		}
		if c := csrs[0].Payload; c.DeviceID != dev || c.CurrentSerial != rg.current() || !strings.HasPrefix(c.Reason, "scheduled renewal") {
			t.Errorf("draw %v: CSR payload %+v", draw, c)
		}
		if s := rg.r.Status(); s.State != phaseAwaiting || s.CorrelationID != csrs[0].CorrelationID {
			t.Errorf("draw %v: status %+v", draw, s)
		}
	}
}

// TestRunWaitsOnItsClock: Run sleeps on the clock it is given, so a
// test's clock moves its wait too: nothing before the renewal point, the
// CSR once the clock reaches it.
func TestRunWaitsOnItsClock(t *testing.T) {
	clk := clocktest.New(t0)
	rg := newRig(t, func(c *RotatorConfig) { c.Clock = clk })
	renewAt := rg.r.Status().RenewAt
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rg.r.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	// Run's renewal timer and its poll of the request file.
	waitUntil(t, "Run to arm its timers", func() bool { return clk.Timers() == 2 })
	clk.Advance(renewAt.Sub(t0) - time.Second)
	waitUntil(t, "Run to wait again", func() bool { return clk.Timers() == 2 })
	if n := len(rg.csrs()); n != 0 {
		t.Fatalf("%d CSRs a second before the renewal point; want 0", n)
	}
	clk.Advance(time.Second)
	waitUntil(t, "the CSR at the renewal point", func() bool { return len(rg.csrs()) == 1 })
}

// TestCSRRetriesThroughAWeekLongOutage: the backend never answers for 7
// days; the rotator keeps sending the CSR of the same rotation, with
// waits that grow to RetryMax and stay there.
func TestCSRRetriesThroughAWeekLongOutage(t *testing.T) {
	rg := newRig(t, func(c *RotatorConfig) { c.Rand = func() float64 { return 0.999 } })
	start := rg.r.Status().RenewAt
	now := start
	end := start.Add(7 * 24 * time.Hour)
	var sent []time.Time
	for now.Before(end) {
		before := len(rg.csrs())
		wake := rg.r.step(ctx, now)
		if len(rg.csrs()) > before {
			sent = append(sent, now)
		}
		if !wake.After(now) {
			t.Fatalf("step(%v) wants to wake at %v: not later", now, wake)
		}
		now = wake
	}
	csrs := rg.csrs()
	if len(csrs) != len(sent) || len(sent) < 7*24 {
		t.Fatalf("%d CSRs over 7 days (at %d instants); want one at least every hour", len(csrs), len(sent))
	}
	for i, c := range csrs {
		if c.CorrelationID != csrs[0].CorrelationID {
			t.Fatalf("CSR %d has correlationId %s, the rotation's is %s", i, c.CorrelationID, csrs[0].CorrelationID)
		}
	}
	for i := 1; i < len(sent); i++ {
		gap := sent[i].Sub(sent[i-1])
		if gap < time.Minute/2 || gap > time.Hour {
			t.Fatalf("gap %d between CSRs is %v; want 30s..1h", i, gap)
		}
	}
	if gap := sent[len(sent)-1].Sub(sent[len(sent)-2]); gap < 50*time.Minute {
		t.Errorf("after a week the CSRs are %v apart; want the cap, about an hour", gap)
	}
	if last := end.Sub(sent[len(sent)-1]); last > time.Hour {
		t.Errorf("the last CSR went out %v before the end of the week; the retries stopped", last)
	}
	if s := rg.r.Status(); s.State != phaseAwaiting || s.CSRs != len(csrs) {
		t.Errorf("status after a week: %+v", s)
	}
}

// TestRotationInstallsAfterTheBrokerAccepts runs a whole rotation in the
// process: CSR, issued, trial, promotion, certificate.installed.
func TestRotationInstallsAfterTheBrokerAccepts(t *testing.T) {
	rg := newRig(t)
	old := rg.current()
	if err := rg.r.handle(ctx, event{rotate: "requested by the test"}, t0); err != nil {
		t.Fatal(err)
	}
	issued := rg.issue(rg.ca, leafOpts{})
	if err := rg.r.handle(ctx, event{issued: issued}, t0); err != nil {
		t.Fatal(err)
	}
	// Candidate stored, presented, the uplink asked to reconnect; current
	// untouched until the broker accepts.
	if got := rg.presented(); got != issued.Payload.SerialNumber {
		t.Fatalf("presenting serial %s during the trial, want the candidate %s", got, issued.Payload.SerialNumber)
	}
	if rg.up.count() != 1 || rg.current() != old {
		t.Fatalf("reconnects %d, current %s; want 1 and the old %s", rg.up.count(), rg.current(), old)
	}
	if _, err := rg.store.Pending(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pending key after the candidate was stored: %v", err)
	}
	// A connection with the old certificate does not count.
	_, oldLeaf, _ := rg.store.Current()
	rg.r.Connected(oldLeaf)
	rg.r.connected(ctx, t0)
	if rg.current() != old {
		t.Fatal("promoted on a connection with the old certificate")
	}
	_, candLeaf, err := rg.store.Candidate()
	if err != nil {
		t.Fatal(err)
	}
	rg.r.Connected(candLeaf)
	rg.r.connected(ctx, t0)
	if rg.current() != issued.Payload.SerialNumber || rg.presented() != issued.Payload.SerialNumber {
		t.Fatalf("current %s, presented %s; want the new %s", rg.current(), rg.presented(), issued.Payload.SerialNumber)
	}
	if _, prev, err := rg.store.Previous(); err != nil || serialOf(prev) != old {
		t.Fatalf("previous %v, %v; want the old %s", prev, err, old)
	}
	inst := of[*contracts.CertificateInstalled](rg.box)
	if len(inst) != 1 {
		t.Fatalf("%d certificate.installed, want 1", len(inst))
	}
	p := inst[0].Payload
	if p.SerialNumber != issued.Payload.SerialNumber || p.PreviousSerial != old || !p.NotAfter.Equal(issued.Payload.NotAfter) || inst[0].CorrelationID != issued.CorrelationID {
		t.Errorf("certificate.installed %+v (correlationId %s)", p, inst[0].CorrelationID)
	}
	if s := rg.r.Status(); s.State != "idle" {
		t.Errorf("state after installation: %s", s.State)
	}
	// The next renewal is drawn for the new certificate.
	if want := RenewAt(candLeaf, rg.cfg.Rand); !rg.r.renewAt.Equal(want) {
		t.Errorf("next renewal %v, want %v", rg.r.renewAt, want)
	}
	j, err := rg.store.loadJournal()
	if err != nil || j != (journal{}) {
		t.Errorf("journal after installation: %+v, %v", j, err)
	}
}

// TestRefusedCertificates: each bad answer is refused with its reason in
// certificate.rotation.failed; the current pair stays and nothing is
// tried.
func TestRefusedCertificates(t *testing.T) {
	other := newRoot(t, "another CA")
	cases := []struct {
		name   string
		answer func(rg *rig) *contracts.CertificateIssued
		want   error
	}{
		{"wrong key", func(rg *rig) *contracts.CertificateIssued {
			m := rg.issue(rg.ca, leafOpts{})
			m.Payload.CertificatePEM = string(newPair(t, rg.ca).pem) // another key's certificate
			return m
		}, ErrWrongKey},
		{"wrong CA", func(rg *rig) *contracts.CertificateIssued { return rg.issue(other, leafOpts{}) }, ErrUntrusted},
		{"wrong CN", func(rg *rig) *contracts.CertificateIssued { return rg.issue(rg.ca, leafOpts{cn: "gw-9999"}) }, ErrWrongSubject},
		{"expired", func(rg *rig) *contracts.CertificateIssued {
			return rg.issue(rg.ca, leafOpts{notBefore: t0.Add(-48 * time.Hour), notAfter: t0.Add(-time.Hour)})
		}, ErrExpired},
		{"inside its own renewal window", func(rg *rig) *contracts.CertificateIssued {
			return rg.issue(rg.ca, leafOpts{notBefore: t0.Add(-80 * 24 * time.Hour), notAfter: t0.Add(10 * 24 * time.Hour)})
		}, ErrTooShort},
		{"garbage PEM", func(rg *rig) *contracts.CertificateIssued {
			m := rg.issue(rg.ca, leafOpts{})
			m.Payload.CertificatePEM = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
			return m
		}, ErrBadPEM},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			rg := newRig(t)
			old := rg.current()
			if err := rg.r.handle(ctx, event{rotate: "test"}, t0); err != nil {
				t.Fatal(err)
			}
			m := tt.answer(rg)
			if err := rg.r.handle(ctx, event{issued: m}, t0); err != nil {
				t.Fatal(err)
			}
			failed := of[*contracts.CertificateRotationFailed](rg.box)
			if len(failed) != 1 {
				t.Fatalf("%d certificate.rotation.failed, want 1", len(failed))
			}
			reason := failed[0].Payload.Reason
			if !strings.Contains(reason, tt.want.Error()) || failed[0].CorrelationID != m.CorrelationID {
				t.Errorf("reason %q (correlationId %s); want it to name %q, correlationId %s", reason, failed[0].CorrelationID, tt.want, m.CorrelationID)
			}
			if rg.current() != old || rg.presented() != old || rg.up.count() != 0 {
				t.Errorf("current %s, presented %s, reconnects %d; want %s, %s, 0", rg.current(), rg.presented(), rg.up.count(), old, old)
			}
			if _, _, err := rg.store.Candidate(); !errors.Is(err, ErrNotFound) {
				t.Errorf("candidate after a refusal: %v", err)
			}
			if _, err := rg.store.Pending(); !errors.Is(err, ErrNotFound) {
				t.Errorf("pending key after a refusal: %v", err)
			}
			if s := rg.r.Status(); s.State != "idle" || s.Failures != 1 || s.LastError != reason {
				t.Errorf("status %+v", s)
			}
		})
	}
}

// TestTrialTimesOutAndRollsBack: the broker never accepts the candidate;
// after TryTimeout the rotator drops it, presents the old pair again,
// reconnects and reports the failure.
func TestTrialTimesOutAndRollsBack(t *testing.T) {
	rg := newRig(t)
	old := rg.current()
	if err := rg.r.handle(ctx, event{rotate: "test"}, t0); err != nil {
		t.Fatal(err)
	}
	m := rg.issue(rg.ca, leafOpts{})
	if err := rg.r.handle(ctx, event{issued: m}, t0); err != nil {
		t.Fatal(err)
	}
	deadline := t0.Add(rg.r.cfg.TryTimeout)
	if wake := rg.r.step(ctx, t0.Add(time.Second)); !wake.Equal(deadline) {
		t.Fatalf("during the trial, step sleeps until %v; want the deadline %v", wake, deadline)
	}
	rg.r.step(ctx, deadline)
	if rg.presented() != old || rg.current() != old || rg.up.count() != 2 {
		t.Fatalf("after the timeout: presented %s, current %s, reconnects %d; want %s, %s, 2", rg.presented(), rg.current(), rg.up.count(), old, old)
	}
	if _, _, err := rg.store.Candidate(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("candidate after the rollback: %v", err)
	}
	failed := of[*contracts.CertificateRotationFailed](rg.box)
	if len(failed) != 1 || !strings.Contains(failed[0].Payload.Reason, "did not accept") || failed[0].Payload.SerialNumber != m.Payload.SerialNumber {
		t.Fatalf("rotation.failed: %+v", failed)
	}
	// A late connection with the candidate changes nothing now.
	rg.r.Connected(mustLeaf(t, m))
	rg.r.connected(ctx, deadline)
	if rg.current() != old {
		t.Fatal("promoted after the rollback")
	}
}

// TestCrashAtEveryStep stops the rotation at each durable step, as kill
// -9 would (the rotator is dropped mid-step), and restarts it on the same
// store: the current pair is always a good one, and the rotation
// completes.
func TestCrashAtEveryStep(t *testing.T) {
	for _, step := range []string{"key", "csr", "candidate", "trial", "promoted"} {
		t.Run(step, func(t *testing.T) {
			type crash struct{}
			armed := true
			rg := newRig(t, func(c *RotatorConfig) {
				c.CrashPoint = func(s string) {
					if armed && s == step {
						armed = false
						panic(crash{})
					}
				}
			})
			old := rg.current()
			crashed := func(f func()) (c bool) {
				defer func() {
					if p := recover(); p != nil {
						if _, ok := p.(crash); !ok {
							panic(p)
						}
						c = true
					}
				}()
				f()
				return false
			}
			// Run the rotation until the crash, then restart and go on
			// the way Run would.
			var issued *contracts.CertificateIssued
			flow := []func(){
				func() { _ = rg.r.handle(ctx, event{rotate: "test"}, t0) },
				func() {
					if rg.r.j.Phase == phaseAwaiting && len(rg.csrs()) == 0 {
						rg.r.step(ctx, t0.Add(time.Hour)) // the CSR is sent again
					}
					if len(rg.csrs()) > 0 && issued == nil {
						issued = rg.issue(rg.ca, leafOpts{})
					}
					if issued != nil {
						_ = rg.r.handle(ctx, event{issued: issued}, t0.Add(time.Hour))
					}
				},
				func() {
					if _, leaf, err := rg.store.Candidate(); err == nil {
						rg.r.Connected(leaf)
						rg.r.connected(ctx, t0.Add(time.Hour))
					}
				},
				func() { rg.r.step(ctx, t0.Add(time.Hour)) },
			}
			restarted := false
			for _, f := range flow {
				if crashed(f) {
					restarted = true
					// What a restart finds: a current pair that matches and is valid.
					_, leaf, err := rg.store.Current()
					if err != nil || t0.After(leaf.NotAfter) {
						t.Fatalf("after the crash: current %v", err)
					}
					if got := serialOf(leaf); got != old && (issued == nil || got != issued.Payload.SerialNumber) {
						t.Fatalf("after the crash: current is %s; want the old %s or the issued one", got, old)
					}
					rg.reopen()
					f() // the step runs again after the restart
				}
			}
			if !restarted {
				t.Fatalf("the flow never reached step %q", step)
			}
			if got := rg.current(); got == old {
				t.Fatalf("after the restart the rotation did not complete: current is still %s (state %s)", got, rg.r.stateName())
			}
			if inst := of[*contracts.CertificateInstalled](rg.box); len(inst) == 0 || inst[len(inst)-1].Payload.SerialNumber != rg.current() {
				t.Fatalf("certificate.installed: %+v; current %s", inst, rg.current())
			}
			if rg.r.stateName() != "idle" {
				t.Fatalf("state after the rotation: %s", rg.r.stateName())
			}
		})
	}
}

// TestExpiryAlarm: within 24 h of the expiry, with no renewal done, an
// error is logged every hour.
func TestExpiryAlarm(t *testing.T) {
	rg := newRig(t, func(c *RotatorConfig) { c.RetryMin, c.RetryMax = time.Hour, 6*time.Hour })
	expiry := t0.Add(-time.Hour).Add(life)
	now := expiry.Add(-30 * time.Hour)
	for now.Before(expiry.Add(-time.Minute)) {
		now = rg.r.step(ctx, now)
	}
	n := strings.Count(rg.logs.String(), "expires soon and is not renewed")
	if n < 23 || n > 25 {
		t.Fatalf("%d expiry alarms in the last 24 h; want one an hour\n%s", n, rg.logs)
	}
	if !strings.Contains(rg.logs.String(), "level=ERROR msg=\"certs: the client certificate expires soon") {
		t.Errorf("the alarm is not at error level:\n%s", rg.logs)
	}
}

// TestIssuedForAnotherDeviceOrRotation: a certificate for another device
// is an error (the dispatcher dead-letters it); one for no rotation under
// way is ignored.
func TestIssuedForAnotherDeviceOrRotation(t *testing.T) {
	rg := newRig(t)
	if err := rg.r.handle(ctx, event{rotate: "test"}, t0); err != nil {
		t.Fatal(err)
	}
	m := rg.issue(rg.ca, leafOpts{})
	wrong := *m
	wrong.Payload.DeviceID = "gw-9999"
	if err := rg.r.Issued(ctx, &wrong); err == nil || !strings.Contains(err.Error(), "payload.deviceId") {
		t.Fatalf("Issued for another device = %v; want an error naming payload.deviceId", err)
	}
	stale := *m
	stale.CorrelationID = contracts.NewCorrelationID()
	if err := rg.r.handle(ctx, event{issued: &stale}, t0); err != nil {
		t.Fatal(err)
	}
	if rg.r.stateName() != phaseAwaiting || len(of[*contracts.CertificateRotationFailed](rg.box)) != 0 {
		t.Fatalf("an answer to another rotation changed this one: state %s", rg.r.stateName())
	}
}

// mustLeaf parses the leaf of an issued certificate.
func mustLeaf(t *testing.T, m *contracts.CertificateIssued) *x509.Certificate {
	t.Helper()
	chain, err := parseChain([]byte(m.Payload.CertificatePEM))
	if err != nil {
		t.Fatal(err)
	}
	return chain[0]
}

// TestWaitsForTheClock: a gateway whose clock is before its
// certificate's validity (1970 after a boot without a real-time clock)
// does not renew, and says why once, until the clock is set.
func TestWaitsForTheClock(t *testing.T) {
	rg := newRig(t)
	boot := time.Date(1970, 1, 1, 0, 0, 42, 0, time.UTC)
	for i := range 3 {
		now := boot.Add(time.Duration(i) * time.Minute)
		if wake := rg.r.step(ctx, now); !wake.Equal(now.Add(time.Minute)) {
			t.Fatalf("step(%v) sleeps until %v; want a minute", now, wake)
		}
	}
	if len(rg.csrs()) != 0 || rg.r.stateName() != "idle" {
		t.Fatalf("renewing with the clock at 1970: %d CSRs, state %s", len(rg.csrs()), rg.r.stateName())
	}
	if n := strings.Count(rg.logs.String(), "is it set?"); n != 1 {
		t.Errorf("%d clock warnings; want one\n%s", n, rg.logs)
	}
	// The clock is set, past the renewal point: the renewal starts.
	rg.r.step(ctx, rg.r.Status().RenewAt)
	if len(rg.csrs()) != 1 {
		t.Fatalf("%d CSRs once the clock is set past the renewal point; want 1", len(rg.csrs()))
	}
}

// TestRepeatedMessagesAreLoggedOnceAMinute: rotations asked for while one
// is under way, and certificates no rotation awaits, come from outside as
// often as a sender likes; each kind writes one line a minute, then one
// saying how many it suppressed.
func TestRepeatedMessagesAreLoggedOnceAMinute(t *testing.T) {
	clk := clocktest.New(t0)
	now := clk.Now()
	rg := newRig(t, func(c *RotatorConfig) { c.Clock = clk })
	if err := rg.r.handle(ctx, event{rotate: "test"}, now); err != nil {
		t.Fatal(err)
	}
	stale := *rg.issue(rg.ca, leafOpts{})
	stale.CorrelationID = contracts.NewCorrelationID()
	const n = 100
	send := func(count int) {
		for range count {
			if err := rg.r.handle(ctx, event{rotate: "again"}, now); err != nil {
				t.Fatal(err)
			}
			if err := rg.r.handle(ctx, event{issued: &stale}, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	lines := func(msg string) []string {
		var out []string
		for l := range strings.Lines(rg.logs.String()) {
			if strings.Contains(l, msg) {
				out = append(out, strings.TrimSpace(l))
			}
		}
		return out
	}
	kinds := []string{"rotation asked for while one is under way", "certificate.issued for no rotation awaiting one"}
	send(n)
	for _, msg := range kinds {
		if got := lines(msg); len(got) != 1 {
			t.Errorf("%d messages: %d lines %q; want 1", n, len(got), msg)
		}
	}
	clk.Advance(time.Minute)
	now = clk.Now()
	send(1)
	for _, msg := range kinds {
		if got := lines(msg); len(got) != 2 || !strings.HasSuffix(got[1], fmt.Sprintf(" suppressed=%d", n-1)) {
			t.Errorf("a minute later: %q; want a second line, suppressed=%d", got, n-1)
		}
	}
	if len(rg.csrs()) != 1 {
		t.Errorf("%d CSRs; want 1: the rotation under way goes on", len(rg.csrs()))
	}
}

// TestRequestLeftByACrashJoinsItsRotation: `agent cert rotate` asked
// for a renewal, the agent crashed with the CSR sent and the request not
// yet removed. Restarted, it resumes that rotation and takes the request
// as served at once, not at the next poll, after which it would start a
// second rotation.
func TestRequestLeftByACrashJoinsItsRotation(t *testing.T) {
	request := filepath.Join(t.TempDir(), "rotate-request")
	rg := newRig(t, func(c *RotatorConfig) { c.RequestFile = request; c.RequestPoll = time.Hour })
	if err := rg.r.handle(ctx, event{rotate: "operator"}, t0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(request, []byte("operator\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rg.reopen() // the restart: a rotation under way, the request still there
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rg.r.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(request); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the request left by the crash is still there 10 s after the restart, the clock not moved: it waits for the next poll")
		}
	}
	if n := len(rg.csrs()); n != 1 {
		t.Errorf("%d CSRs; want the one of the resumed rotation", n)
	}
}
