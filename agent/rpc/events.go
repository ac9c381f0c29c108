package rpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
)

// EventHandler acts on a message received that is not an RPC:
// certificate.command.rotate (on Kafka, from device.commands) or
// certificate.issued (from certificate.events). It returns once
// the message is handled durably (the request is then acknowledged); an
// error means the message was wrong, for another device say, and
// dead-letters it with the error as the reason. A handler that cannot
// finish before ctx ends returns ctx's error: the request is then left
// unacknowledged, for the broker to deliver again.
type EventHandler func(ctx context.Context, m contracts.Message) error

// expirer is a command that may carry expiresAt.
type expirer interface{ Expired(now time.Time) bool }

// handleEvent hands m to its handler h. Such messages get no answer: the
// handler's own events tell how they went.
func (d *Dispatcher) handleEvent(req *uplink.Command, m contracts.Message, h EventHandler) {
	h0 := m.Header()
	now := d.cfg.Clock.Now()
	if c, ok := m.(expirer); ok && c.Expired(now) || !req.Expiry.IsZero() && now.After(req.Expiry) {
		d.deadLetter(req, contracts.DLQExpired, req.Payload, h0.CorrelationID, fmt.Errorf("rpc: %s expired before it could be handled", h0.EventType))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.Timeout)
	defer cancel()
	err := h(ctx, m)
	switch {
	case err == nil:
		d.log.answers.Info("handled "+string(h0.EventType), "rpc: handled", "eventType", h0.EventType, "correlationId", h0.CorrelationID)
		req.Answered(nil, true)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		d.log.problems.Error("not handled "+string(h0.EventType), "rpc: not handled in time; the broker delivers it again", "eventType", h0.EventType, "correlationId", h0.CorrelationID, "err", err)
		req.Answered(nil, false)
	default:
		d.deadLetter(req, contracts.DLQInvalid, req.Payload, h0.CorrelationID, err)
	}
}
