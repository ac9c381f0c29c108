package certs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/contracts"
)

// The steps of a rotation, each run by Run's goroutine. Each makes its
// change durable (store, journal, outbox) before the next starts, so
// that a restart at any point resumes from the last one: see NewRotator
// and the package documentation.

// start begins a rotation: a new pending key, a journal naming the
// rotation, and its first CSR.
func (r *Rotator) start(ctx context.Context, now time.Time, reason string) error {
	key, err := NewKey(r.cfg.KeyAlg)
	if err != nil {
		return err
	}
	if err := r.store.PutPending(key); err != nil {
		return err
	}
	r.crash("key")
	r.j = journal{
		Phase: phaseAwaiting, CorrelationID: contracts.NewCorrelationID(), Reason: reason,
		Failures: r.j.Failures, NextAttempt: r.j.NextAttempt, LastError: r.j.LastError,
	}
	r.save()
	r.log.Info("certs: renewing the client certificate", "reason", reason, "correlationId", r.j.CorrelationID, "serial", serialOf(r.current))
	if err := r.sendCSR(ctx, now); err != nil {
		// The next step sends it again after a retry wait.
		r.log.Error("certs: send the CSR", "err", err, "correlationId", r.j.CorrelationID)
		r.j.LastCSR = now
		r.save()
	}
	return nil
}

// sendCSR puts a certificate.csr.created for the pending key in the
// outbox. A pending key lost (or damaged) is made again: only the CSR
// of the key the device holds can be answered.
func (r *Rotator) sendCSR(ctx context.Context, now time.Time) error {
	key, err := r.store.Pending()
	if err != nil {
		r.log.Warn("certs: the pending key is missing; making a new one", "err", err)
		if key, err = NewKey(r.cfg.KeyAlg); err != nil {
			return err
		}
		if err := r.store.PutPending(key); err != nil {
			return err
		}
	}
	csr, err := NewCSR(key, r.cfg.DeviceID)
	if err != nil {
		return err
	}
	m := contracts.NewCertificateCSRCreated(r.origin, contracts.CertificateCSRCreatedPayload{
		DeviceID: r.cfg.DeviceID, CSRPEM: string(csr), Reason: r.j.Reason, CurrentSerial: serialOf(r.current),
	})
	m.CorrelationID = r.j.CorrelationID
	if err := r.append(ctx, m, m.CorrelationID); err != nil {
		return err
	}
	r.crash("csr")
	r.j.CSRs++
	r.j.LastCSR = now
	r.save()
	r.log.Info("certs: CSR sent", "correlationId", r.j.CorrelationID, "csrs", r.j.CSRs)
	return nil
}

// issued checks the certificate the backend issued for the rotation
// under way and, if good, stores it as the candidate and has the uplink
// try it; if not, reports why and ends the rotation.
func (r *Rotator) issued(ctx context.Context, m *contracts.CertificateIssued, now time.Time) error {
	if r.j.Phase != phaseAwaiting || m.CorrelationID != r.j.CorrelationID {
		r.lines.Warn("issued ignored", "certs: certificate.issued for no rotation awaiting one; ignored",
			"correlationId", m.CorrelationID, "serial", m.Payload.SerialNumber, "awaiting", r.j.CorrelationID, "state", r.stateName())
		return nil
	}
	key, err := r.store.Pending()
	if err != nil {
		r.fail(ctx, now, fmt.Sprintf("the pending key is gone: %v", err), m.Payload.SerialNumber)
		return nil
	}
	certPEM := []byte(m.Payload.CertificatePEM)
	if m.Payload.ChainPEM != "" {
		certPEM = append(append(certPEM, '\n'), m.Payload.ChainPEM...)
	}
	leaf, err := Check(certPEM, key, r.cfg.Roots, r.cfg.DeviceID, now, renewWindowOf(certPEM))
	if err != nil {
		r.fail(ctx, now, err.Error(), m.Payload.SerialNumber)
		return nil
	}
	if err := r.store.PutCandidate(certPEM, key); err != nil {
		r.fail(ctx, now, err.Error(), serialOf(leaf))
		return nil
	}
	r.crash("candidate")
	cand, _, err := r.store.Candidate()
	if err != nil {
		r.fail(ctx, now, err.Error(), serialOf(leaf))
		return nil
	}
	r.j.Phase, r.j.Serial = phaseTrying, serialOf(leaf)
	r.j.PreviousSerial, r.j.TrialStarted = serialOf(r.current), now
	r.save()
	r.log.Info("certs: certificate issued and checked; trying it", "serial", r.j.Serial, "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339), "correlationId", r.j.CorrelationID)
	r.mu.Lock()
	r.active = cand
	r.mu.Unlock()
	r.crash("trial")
	r.cfg.Uplink.Reconnect()
	return nil
}

// connected installs the candidate on trial once the uplink connected
// with it.
func (r *Rotator) connected(ctx context.Context, now time.Time) {
	defer r.publish()
	r.mu.Lock()
	leaf := r.lastConn
	r.mu.Unlock()
	if r.j.Phase != phaseTrying || leaf == nil || serialOf(leaf) != r.j.Serial {
		return
	}
	r.j.Phase = phaseInstalling
	r.save()
	r.install(ctx, now)
}

// install promotes the accepted candidate and reports it.
func (r *Rotator) install(ctx context.Context, now time.Time) {
	if err := r.store.Promote(); err != nil && !errors.Is(err, ErrNotFound) {
		r.rollback(ctx, now, fmt.Sprintf("installing certificate serial %s: %v", r.j.Serial, err))
		return
	}
	r.crash("promoted")
	pair, leaf, err := r.store.Current()
	if err != nil {
		r.log.Error("certs: the current pair after promotion", "err", err)
		return
	}
	if serialOf(leaf) != r.j.Serial {
		// Promoted before a crash, then something else replaced it.
		r.log.Warn("certs: the current certificate is not the one installed; ending the rotation", "current", serialOf(leaf), "installed", r.j.Serial)
	}
	r.mu.Lock()
	r.active = pair
	r.mu.Unlock()
	r.current, r.renewAt, r.lastAlarm = leaf, RenewAt(leaf, r.cfg.Rand), time.Time{}
	m := contracts.NewCertificateInstalled(r.origin, r.j.CorrelationID, contracts.CertificateInstalledPayload{
		DeviceID: r.cfg.DeviceID, SerialNumber: serialOf(leaf), NotAfter: leaf.NotAfter, PreviousSerial: r.j.PreviousSerial,
	})
	if err := r.append(ctx, m, m.CorrelationID); err != nil {
		// The journal still says installing: the next step reports it.
		r.log.Error("certs: report the installed certificate", "err", err)
		return
	}
	r.log.Info("certs: certificate installed", "serial", serialOf(leaf), "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339),
		"previousSerial", r.j.PreviousSerial, "correlationId", r.j.CorrelationID, "nextRenewal", r.renewAt.UTC().Format(time.RFC3339))
	r.j = journal{}
	r.save()
}

// rollback drops the candidate, reconnects with the current pair and
// reports the failure.
func (r *Rotator) rollback(ctx context.Context, now time.Time, reason string) {
	if err := r.store.Rollback(); err != nil {
		r.log.Error("certs: roll back", "err", err)
	}
	pair, _, err := r.store.Current()
	if err == nil {
		r.mu.Lock()
		r.active = pair
		r.mu.Unlock()
	}
	r.cfg.Uplink.Reconnect()
	r.fail(ctx, now, reason, r.j.Serial)
}

// fail reports a failed rotation (certificate.rotation.failed) and ends
// it; the next one waits a retry.
func (r *Rotator) fail(ctx context.Context, now time.Time, reason, serial string) {
	r.log.Error("certs: rotation failed; the current certificate stays", "reason", reason, "serial", serial, "correlationId", r.j.CorrelationID)
	m := contracts.NewCertificateRotationFailed(r.origin, r.j.CorrelationID, contracts.CertificateRotationFailedPayload{
		DeviceID: r.cfg.DeviceID, Reason: reason, SerialNumber: serial,
	})
	if err := r.append(ctx, m, m.CorrelationID); err != nil {
		r.log.Error("certs: report the failed rotation", "err", err)
	}
	r.failIdle(now, reason)
}

// failIdle ends the rotation as failed: no pending key, a retry later.
func (r *Rotator) failIdle(now time.Time, reason string) {
	if err := r.store.dropPending(); err != nil {
		r.log.Error("certs: drop the pending key", "err", err)
	}
	n := r.j.Failures + 1
	r.j = journal{Failures: n, LastError: reason, NextAttempt: now.Add(r.retryWait(n))}
	r.save()
}

// append puts message m in the outbox's control lane.
func (r *Rotator) append(ctx context.Context, m contracts.Message, correlationID string) error {
	b, err := contracts.Encode(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	head := record.HeadOf(m.Header())
	head.CorrelationID = correlationID
	return r.cfg.Outbox.Append(ctx, record.Of(outbox.LaneControl, r.cfg.Topic, r.cfg.DeviceID, head, b))
}

// renewWindowOf is the renewal window of the leaf in certPEM: the part
// of its lifetime after the earliest renewal point. A certificate issued
// already inside it would be renewed at once. Zero when certPEM does not
// parse (Check says why).
func renewWindowOf(certPEM []byte) time.Duration {
	chain, err := parseChain(certPEM)
	if err != nil {
		return 0
	}
	life := chain[0].NotAfter.Sub(chain[0].NotBefore)
	return time.Duration(float64(life) * (1 - renewFrom))
}
