package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/backoff"
	"github.com/iot-hub/agent/internal/clock"
	"github.com/iot-hub/agent/internal/lograte"
)

// Outbox is where a rotation's events go (the outbox's control lane).
type Outbox interface {
	Append(ctx context.Context, recs ...outbox.Record) error
}

// Uplink is the connection a rotation tries a new certificate on.
type Uplink interface {
	// Reconnect drops the connection, so that the next one presents what
	// Rotator.ClientCertificate returns then, and reconnects soon.
	Reconnect()
}

// RotatorConfig configures a Rotator. Zero durations take the defaults
// of DefaultRotatorConfig.
type RotatorConfig struct {
	// DeviceID is the CN of every certificate the device asks for.
	DeviceID string
	// Store holds the pairs; its current pair must exist (Import puts
	// the factory pair there).
	Store *Store
	// Roots are the CAs an issued certificate must chain to.
	Roots *x509.CertPool
	// KeyAlg is the algorithm of new keys: AlgECDSAP256 (default) or
	// AlgRSA2048.
	KeyAlg string
	// Outbox takes the rotation's events; Topic is theirs (the device's
	// MQTT events topic; the Kafka uplink picks its topic by event type).
	Outbox Outbox
	Topic  string
	// Uplink is asked to reconnect when the presented pair changes.
	Uplink Uplink
	// RetryMin and RetryMax bound the waits between the CSRs of a
	// rotation the backend does not answer, and between failed
	// rotations: doubling from RetryMin, jittered, up to RetryMax.
	// Defaults 1 min and 1 h.
	RetryMin, RetryMax time.Duration
	// TryTimeout bounds the trial of a new certificate: the uplink must
	// connect with it within this long, or the rotation rolls back.
	// Default 30 s.
	TryTimeout time.Duration
	// RequestFile is where `agent cert rotate` asks for a rotation; Run
	// looks for it every RequestPoll (default 5 s). Empty: not watched.
	RequestFile string
	RequestPoll time.Duration
	// Logger receives the rotation's log lines. Those of messages from
	// outside that change nothing (a rotation asked for while one is
	// under way, a certificate no rotation awaits) are limited to one a
	// minute per kind, the next saying how many it suppressed. Default:
	// discard.
	Logger *slog.Logger
	// Clock is the time the rotation reads and waits on; nil means
	// clock.System. Rand draws the renewal point (see RenewAt); nil means
	// math/rand/v2's Float64.
	Clock clock.Clock
	Rand  func() float64
	// CrashPoint, when set, is called after each durable step of a
	// rotation with its name ("key", "csr", "candidate", "trial",
	// "promoted"): crash tests kill the agent there. Nil in the agent.
	CrashPoint func(step string)
}

// DefaultRotatorConfig returns the defaults.
func DefaultRotatorConfig() RotatorConfig {
	return RotatorConfig{
		KeyAlg:      AlgECDSAP256,
		RetryMin:    time.Minute,
		RetryMax:    time.Hour,
		TryTimeout:  30 * time.Second,
		RequestPoll: 5 * time.Second,
	}
}

func (c RotatorConfig) withDefaults() RotatorConfig {
	d := DefaultRotatorConfig()
	if c.KeyAlg == "" {
		c.KeyAlg = d.KeyAlg
	}
	if c.RetryMin == 0 {
		c.RetryMin = d.RetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(d.RetryMax, c.RetryMin)
	}
	if c.TryTimeout == 0 {
		c.TryTimeout = d.TryTimeout
	}
	if c.RequestPoll == 0 {
		c.RequestPoll = d.RequestPoll
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Clock = clock.Or(c.Clock)
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// expiryAlarm is how close to its expiry an unrenewed certificate makes
// the rotation log an error, once per expiryAlarmEvery.
const (
	expiryAlarm      = 24 * time.Hour
	expiryAlarmEvery = time.Hour
)

// Rotator renews the device's client certificate and serves it to the
// uplink. See the package documentation for the flow. Its methods are
// safe for concurrent use; Run drives the rotation, and only Run's
// goroutine changes the journal and the store.
type Rotator struct {
	cfg    RotatorConfig
	store  *Store
	log    *slog.Logger
	lines  *lograte.Logger // the lines of messages that come from outside, limited by kind
	origin contracts.Origin
	events chan event
	conns  chan struct{} // a connection was reported (Connected)

	// Run's state.
	j         journal
	current   *x509.Certificate // the current pair's leaf
	renewAt   time.Time         // drawn for current
	lastAlarm time.Time
	warnClock bool // the clock-not-set warning was logged

	mu       sync.Mutex
	active   tls.Certificate   // what new connections present
	lastConn *x509.Certificate // the leaf of the last successful connection
	status   Status
}

// Status is the state of the renewal, for getDeviceState and logs.
type Status struct {
	// State is "idle", "awaiting-certificate", "trying-candidate" or
	// "installing".
	State string
	// Serial and NotAfter are the current certificate's.
	Serial   string
	NotAfter time.Time
	// RenewAt is when the next scheduled renewal starts.
	RenewAt time.Time
	// CorrelationID identifies the rotation under way; CSRs counts its
	// CSRs.
	CorrelationID string
	CSRs          int
	// Failures counts failed rotations in a row; LastError is the last
	// one's reason; NextAttempt when the next may start.
	Failures    int
	LastError   string
	NextAttempt time.Time
}

// event is something for Run to act on: a certificate issued, a
// rotation asked for.
type event struct {
	issued *contracts.CertificateIssued
	rotate string // the reason, when a rotation is asked for
	done   chan error
}

// NewRotator opens the rotation of the pairs in cfg.Store: it loads the
// current pair and the journal, and resumes a trial interrupted by a
// restart (the uplink then connects with the candidate first).
func NewRotator(cfg RotatorConfig) (*Rotator, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Store == nil:
		return nil, errors.New("certs: rotator: no store")
	case cfg.DeviceID == "":
		return nil, errors.New("certs: rotator: no device id")
	case cfg.Outbox == nil || cfg.Uplink == nil:
		return nil, errors.New("certs: rotator: no outbox or no uplink")
	case cfg.RetryMin <= 0 || cfg.RetryMax < cfg.RetryMin || cfg.TryTimeout <= 0:
		return nil, fmt.Errorf("certs: rotator: RetryMin %v, RetryMax %v and TryTimeout %v must be positive and in order", cfg.RetryMin, cfg.RetryMax, cfg.TryTimeout)
	}
	if err := checkAlg(cfg.KeyAlg); err != nil {
		return nil, fmt.Errorf("certs: rotator: %w", err)
	}
	r := &Rotator{
		cfg: cfg, store: cfg.Store, log: cfg.Logger, lines: lograte.New(cfg.Logger, lograte.Config{Clock: cfg.Clock}),
		origin: contracts.DeviceOrigin(cfg.DeviceID),
		events: make(chan event), conns: make(chan struct{}, 1),
	}
	r.origin.Clock = cfg.Clock.Now
	pair, leaf, err := r.store.Current()
	if err != nil {
		return nil, fmt.Errorf("certs: rotator: %w", err)
	}
	r.current, r.active = leaf, pair
	if r.j, err = r.store.loadJournal(); err != nil {
		r.log.Error("certs: the rotation journal is damaged; starting over", "err", err)
		r.j = journal{}
	}
	if cand, candLeaf, err := r.store.Candidate(); err == nil {
		// A trial was under way: try the candidate again, afresh.
		r.j.Phase, r.j.Serial = phaseTrying, serialOf(candLeaf)
		r.j.PreviousSerial, r.j.TrialStarted = serialOf(leaf), cfg.Clock.Now()
		r.active = cand
	}
	r.renewAt = RenewAt(leaf, cfg.Rand)
	r.publish()
	return r, nil
}

// ClientCertificate returns the pair new connections present: the
// current one, or the candidate while it is tried. It is the uplink's
// tls.Config.GetClientCertificate.
func (r *Rotator) ClientCertificate() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.active
	return &c, nil
}

// Connected tells the rotation that the uplink connected, presenting
// leaf: when leaf is the candidate on trial, the broker accepted it. It
// does not block.
func (r *Rotator) Connected(leaf *x509.Certificate) {
	r.mu.Lock()
	r.lastConn = leaf
	r.mu.Unlock()
	select {
	case r.conns <- struct{}{}:
	default:
	}
}

// Status returns the state of the renewal.
func (r *Rotator) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Rotate starts a rotation now, for reason (a certificate.command.rotate,
// `agent cert rotate`), unless one is under way. It returns once Run has
// taken it, or ctx ended.
func (r *Rotator) Rotate(ctx context.Context, reason string) error {
	return r.send(ctx, event{rotate: reason})
}

// Issued hands Run the certificate the backend issued. It returns once
// the certificate is checked and, if good, stored as the candidate, or
// refused and reported (certificate.rotation.failed): the command may be
// acknowledged then. A certificate for another device is an error.
func (r *Rotator) Issued(ctx context.Context, m *contracts.CertificateIssued) error {
	if m.Payload.DeviceID != r.cfg.DeviceID {
		return fmt.Errorf("certs: payload.deviceId: the certificate is for %q; this is %q", m.Payload.DeviceID, r.cfg.DeviceID)
	}
	return r.send(ctx, event{issued: m})
}

func (r *Rotator) send(ctx context.Context, e event) error {
	e.done = make(chan error, 1)
	select {
	case r.events <- e:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-e.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run drives the rotation until ctx ends: it renews on schedule, resends
// CSRs the backend does not answer, tries and installs the certificates
// it issues, rolls back the ones the broker refuses, and takes requests.
func (r *Rotator) Run(ctx context.Context) error {
	clk := r.cfg.Clock
	timer := clk.NewTimer(0)
	defer timer.Stop()
	poll := clk.NewTimer(r.cfg.RequestPoll)
	defer poll.Stop()
	// A request a crash left behind is looked at first: it joins the
	// rotation it had started, which resumes, instead of starting a second
	// one once that is done.
	r.checkRequest(ctx, clk.Now())
	for {
		now := clk.Now()
		wake := r.step(ctx, now)
		timer.Reset(max(wake.Sub(now), 0))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
		case <-r.conns:
			r.connected(ctx, clk.Now())
		case e := <-r.events:
			e.done <- r.handle(ctx, e, clk.Now())
		case <-poll.C():
			poll.Reset(r.cfg.RequestPoll)
			r.checkRequest(ctx, clk.Now())
		}
	}
}

// handle acts on an event.
func (r *Rotator) handle(ctx context.Context, e event, now time.Time) error {
	defer r.publish()
	if e.issued != nil {
		return r.issued(ctx, e.issued, now)
	}
	if r.j.Phase != "" {
		r.lines.Info("under way", "certs: rotation asked for while one is under way; going on with it", "reason", e.rotate, "correlationId", r.j.CorrelationID, "state", r.j.Phase)
		return nil
	}
	return r.start(ctx, now, e.rotate)
}

// checkRequest starts the rotation `agent cert rotate` asked for.
func (r *Rotator) checkRequest(ctx context.Context, now time.Time) {
	if r.cfg.RequestFile == "" {
		return
	}
	data, err := os.ReadFile(r.cfg.RequestFile)
	if err != nil {
		return // none
	}
	reason := strings.TrimSpace(string(data))
	if reason == "" {
		reason = "requested on the device (agent cert rotate)"
	}
	if err := r.handle(ctx, event{rotate: reason}, now); err != nil {
		r.log.Error("certs: rotation", "err", err)
		return // asked again at the next poll
	}
	// Removed once the rotation is under way, durably: a crash before
	// leaves the request for the next start.
	if err := os.Remove(r.cfg.RequestFile); err != nil {
		r.log.Error("certs: remove the rotation request", "file", r.cfg.RequestFile, "err", err)
	}
}

// step does what is due at now and returns when to look again: later
// than now, unless a step failed and is to be tried again at once.
func (r *Rotator) step(ctx context.Context, now time.Time) time.Time {
	defer r.publish()
	// A step that changes the phase (a renewal started, a trial rolled
	// back) makes the next phase's due time the answer.
	for range 3 {
		phase := r.j.Phase
		wake := r.stepOnce(ctx, now)
		if r.j.Phase == phase || wake.After(now) {
			return wake
		}
	}
	return now.Add(time.Second)
}

// stepOnce is one pass of step.
func (r *Rotator) stepOnce(ctx context.Context, now time.Time) time.Time {
	wake := r.alarm(now)
	var next time.Time
	switch r.j.Phase {
	case "":
		next = r.idle(ctx, now)
	case phaseAwaiting:
		due := r.j.LastCSR.Add(r.retryWait(r.j.CSRs))
		if !now.Before(due) {
			r.log.Warn("certs: no certificate issued yet; sending the CSR again", "correlationId", r.j.CorrelationID, "csrs", r.j.CSRs)
			if err := r.sendCSR(ctx, now); err != nil {
				r.log.Error("certs: send the CSR", "err", err, "correlationId", r.j.CorrelationID)
				r.j.LastCSR = now // wait a retry before the next try
			}
			due = r.j.LastCSR.Add(r.retryWait(r.j.CSRs))
		}
		next = due
	case phaseTrying:
		due := r.j.TrialStarted.Add(r.cfg.TryTimeout)
		if !now.Before(due) {
			r.rollback(ctx, now, fmt.Sprintf("the broker did not accept certificate serial %s within %s; rolled back to serial %s", r.j.Serial, r.cfg.TryTimeout, serialOf(r.current)))
			return now
		}
		next = due
	case phaseInstalling:
		r.install(ctx, now)
		return now
	default:
		r.log.Error("certs: unknown rotation phase in the journal; starting over", "phase", r.j.Phase)
		r.j = journal{Failures: r.j.Failures, NextAttempt: r.j.NextAttempt}
		r.save()
		return now
	}
	if wake.IsZero() || next.Before(wake) {
		wake = next
	}
	return wake
}

// idle starts the scheduled renewal, or a retry, when due; it returns
// when it will be.
func (r *Rotator) idle(ctx context.Context, now time.Time) time.Time {
	if now.Before(r.current.NotBefore) {
		// 1970 after a boot without a real-time clock: wait for NTP.
		if !r.warnClock {
			r.warnClock = true
			r.log.Warn("certs: the clock is before the certificate's validity; is it set? renewal waits for it", "now", now.UTC().Format(time.RFC3339), "notBefore", r.current.NotBefore.UTC().Format(time.RFC3339))
		}
		return now.Add(time.Minute)
	}
	r.warnClock = false
	due := r.renewAt
	if r.j.Failures > 0 && now.After(r.renewAt) {
		due = r.j.NextAttempt
	}
	if now.Before(due) {
		return due
	}
	reason := fmt.Sprintf("scheduled renewal: certificate serial %s expires at %s", serialOf(r.current), r.current.NotAfter.UTC().Format(time.RFC3339))
	if r.j.Failures > 0 {
		reason += fmt.Sprintf(" (attempt %d; the last failed: %s)", r.j.Failures+1, r.j.LastError)
	}
	if err := r.start(ctx, now, reason); err != nil {
		r.log.Error("certs: start the renewal", "err", err)
		r.failIdle(now, err.Error())
	}
	return now
}

// alarm logs an error every hour once the current certificate is within
// expiryAlarm of its expiry; it returns when it will next.
func (r *Rotator) alarm(now time.Time) time.Time {
	from := r.current.NotAfter.Add(-expiryAlarm)
	if now.Before(from) {
		return from
	}
	if r.lastAlarm.IsZero() || now.Sub(r.lastAlarm) >= expiryAlarmEvery {
		r.lastAlarm = now
		r.log.Error("certs: the client certificate expires soon and is not renewed; once it has, the gateway cannot connect",
			"serial", serialOf(r.current), "notAfter", r.current.NotAfter.UTC().Format(time.RFC3339),
			"in", r.current.NotAfter.Sub(now).Round(time.Minute).String(), "state", r.stateName(), "failures", r.j.Failures, "lastError", r.j.LastError)
	}
	return r.lastAlarm.Add(expiryAlarmEvery)
}

// retryWait is the wait after attempt n (from 1): backoff.Jittered, drawn
// with cfg.Rand so that tests choose it.
func (r *Rotator) retryWait(n int) time.Duration {
	return backoff.JitteredBy(r.cfg.RetryMin, r.cfg.RetryMax, n, r.cfg.Rand())
}

// publish makes the state visible to Status.
func (r *Rotator) publish() {
	s := Status{
		State: r.stateName(), Serial: serialOf(r.current), NotAfter: r.current.NotAfter, RenewAt: r.renewAt,
		CorrelationID: r.j.CorrelationID, CSRs: r.j.CSRs,
		Failures: r.j.Failures, LastError: r.j.LastError, NextAttempt: r.j.NextAttempt,
	}
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
}

func (r *Rotator) stateName() string {
	if r.j.Phase == "" {
		return "idle"
	}
	return r.j.Phase
}

// save writes the journal; a failure is logged, and the rotation goes on
// from memory.
func (r *Rotator) save() {
	if err := r.store.saveJournal(r.j); err != nil {
		r.log.Error("certs: save the rotation journal", "err", err)
	}
}

// crash calls the crash point of step.
func (r *Rotator) crash(step string) {
	if r.cfg.CrashPoint != nil {
		r.cfg.CrashPoint(step)
	}
}

// serialOf formats a certificate's serial number as getDeviceState and
// the events do: lower-case hexadecimal.
func serialOf(c *x509.Certificate) string {
	if c == nil || c.SerialNumber == nil {
		return ""
	}
	return c.SerialNumber.Text(16)
}
