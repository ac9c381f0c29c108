package rpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
)

// Making answers and dead letters: the refusals of commands the
// dispatcher does not run, and the encoding of every answer.

// refuseInvalid answers a command that contracts.Decode refused, when it
// can be answered, and dead-letters it in any case.
func (d *Dispatcher) refuseInvalid(req *uplink.Command, err error) {
	var ce *contracts.Error
	if !errors.As(err, &ce) || errors.Is(err, contracts.ErrMalformed) {
		d.deadLetter(req, contracts.DLQMalformed, req.Payload, "", err)
		return
	}
	code, reason := contracts.CodeInvalidCommand, contracts.DLQInvalid
	switch {
	case errors.Is(err, contracts.ErrUnsupportedVersion):
		code, reason = contracts.CodeUnsupportedVersion, contracts.DLQUnsupportedVersion
	case errors.Is(err, contracts.ErrUnknownEventType):
		reason = contracts.DLQUnknownEventType
	case errors.Is(err, contracts.ErrUnknownMethod):
		code = contracts.CodeMethodNotFound
	}
	var method contracts.Method
	if cmd, ok := ce.Message.(*contracts.DeviceCommandRPC); ok {
		method = cmd.Payload.Method
	}
	d.refuse(req, ce.Header, method, code, reason, err)
}

// refuseUnconverted refuses a command its uplink could not convert from
// an old format (req.Refusal), as refuseInvalid does a v1 one: one not
// JSON, or not an object, is a dead letter (malformed); one that names no
// method is a dead letter (unanswerable), as the old formats match an
// answer to its command by the method; any other is answered
// METHOD_NOT_FOUND (a method the contract does not know) or
// INVALID_COMMAND, with the uplink's correlationId, and dead-lettered
// (invalid). The dead letter holds the message as received, and the
// uplink's correlationId.
func (d *Dispatcher) refuseUnconverted(req *uplink.Command) {
	r := req.Refusal
	switch {
	case errors.Is(r.Err, contracts.ErrMalformed):
		d.deadLetter(req, contracts.DLQMalformed, req.Payload, r.CorrelationID, r.Err)
	case r.Method == "":
		d.deadLetter(req, contracts.DLQUnanswerable, req.Payload, r.CorrelationID, fmt.Errorf("%w (and it names no method to answer)", r.Err))
	default:
		code := contracts.CodeInvalidCommand
		if errors.Is(r.Err, contracts.ErrUnknownMethod) {
			code = contracts.CodeMethodNotFound
		}
		cmd := contracts.Envelope{EventType: contracts.TypeDeviceCommandRPC, CorrelationID: r.CorrelationID}
		d.refuse(req, &cmd, contracts.Method(r.Method), code, contracts.DLQInvalid, r.Err)
	}
}

// refuse answers a command with an error code, when it has a
// correlationId to answer, and dead-letters it with reason.
func (d *Dispatcher) refuse(req *uplink.Command, cmd *contracts.Envelope, method contracts.Method, code, reason string, err error) {
	if cmd == nil || cmd.CorrelationID == "" {
		d.deadLetter(req, contracts.DLQUnanswerable, req.Payload, "", fmt.Errorf("%w (and it has no correlationId to answer)", err))
		return
	}
	recs := []outbox.Record{}
	answer := d.errorAnswer(req, cmd, method, code, err)
	if answer != nil && !req.Local() {
		recs = append(recs, d.record(req.Route, req.Reply, req.ReplyHeaders, answer, contracts.TypeDeviceResponseRPC, cmd.CorrelationID))
	}
	if letter := d.letter(req, reason, req.Payload, cmd.CorrelationID, err); letter != nil {
		recs = append(recs, *letter)
	}
	d.queue(req, cmd.CorrelationID, recs, answer)
}

// deadLetter puts raw aside as a system.dlq with the reason, under the
// message's correlationId when it has one ("" when it is unknown).
func (d *Dispatcher) deadLetter(req *uplink.Command, reason string, raw []byte, correlationID string, err error) {
	d.log.problems.Warn("dead letter "+reason, "rpc: dead letter", "reason", reason, "topic", req.Topic, "bytes", req.BodySize(), "correlationId", correlationID, "err", err)
	var recs []outbox.Record
	if letter := d.letter(req, reason, raw, correlationID, err); letter != nil {
		recs = append(recs, *letter)
	}
	d.queue(req, correlationID, recs, nil)
}

// letter builds the dead-letter record of req, with the command's
// correlationId when it has one, or nil (logged) if it cannot be encoded.
func (d *Dispatcher) letter(req *uplink.Command, reason string, raw []byte, correlationID string, cause error) *outbox.Record {
	m := contracts.NewSystemDLQ(d.origin, reason, req.Topic, raw, cause)
	if correlationID != "" {
		m.CorrelationID = correlationID
	}
	b, err := contracts.Encode(m)
	if err != nil {
		d.log.problems.Error("encode dead letter", "rpc: cannot encode a dead letter", "reason", reason, "err", err)
		return nil
	}
	r := d.record(req.Route, req.DeadLetters, nil, b, contracts.TypeSystemDLQ, m.CorrelationID)
	return &r
}

// queue appends recs, then settles req with answer (nil for none): see
// uplink.Command.Answered.
func (d *Dispatcher) queue(req *uplink.Command, correlationID string, recs []outbox.Record, answer []byte) {
	var err error
	if len(recs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
		defer cancel()
		if err = d.box.Append(ctx, recs...); err != nil {
			d.log.problems.Error("queue refusal", "rpc: cannot queue the refusal; the command comes again with the next connection", "correlationId", correlationID, "err", err)
		}
	}
	req.Answered(answer, err == nil)
}

// errorAnswer encodes an error answer to cmd, or returns nil (logged).
func (d *Dispatcher) errorAnswer(req *uplink.Command, cmd *contracts.Envelope, method contracts.Method, code string, err error) []byte {
	b, encErr := d.encodeAnswer(req, contracts.NewDeviceResponseRPCError(d.origin, cmd, d.answerPayload(req, method), code, err.Error()))
	if encErr != nil {
		d.log.problems.Error("encode error answer", "rpc: cannot encode an answer", "code", code, "err", encErr)
		return nil
	}
	return b
}

// answerPayload is the payload of an answer to method, as far as the
// result: this device, the method as the command named it, and the time
// taken since the request came.
func (d *Dispatcher) answerPayload(req *uplink.Command, method contracts.Method) contracts.DeviceResponseRPCPayload {
	name := string(method)
	if name == "" {
		name = noMethod
	}
	took := d.cfg.Clock.Now().Sub(req.ReceivedAt)
	return contracts.DeviceResponseRPCPayload{DeviceID: d.cfg.DeviceID, Method: name, DurationMs: max(float64(took.Microseconds())/1000, 0)}
}

// noMethod stands for the method in answers to commands that named none.
const noMethod = "(none)"

// encodeAnswer encodes an answer, logging it.
func (d *Dispatcher) encodeAnswer(req *uplink.Command, m *contracts.DeviceResponseRPC) ([]byte, error) {
	b, err := contracts.Encode(m)
	if err != nil {
		return nil, fmt.Errorf("rpc: encode the answer: %w", err)
	}
	if m.Error != nil {
		d.log.problems.Warn("error answer "+m.Error.Code, "rpc: answered with an error", "method", m.Payload.Method, "code", m.Error.Code, "message", m.Error.Message,
			"durationMs", m.Payload.DurationMs, "correlationId", m.CorrelationID, "replyTopic", req.Reply)
	} else {
		d.log.answers.Info("answered "+m.Payload.Method, "rpc: answered", "method", m.Payload.Method,
			"durationMs", m.Payload.DurationMs, "correlationId", m.CorrelationID, "replyTopic", req.Reply)
	}
	d.observe(m)
	return b, nil
}

// encodeResult encodes a method's result as JSON.
func encodeResult(v any) (jsontext.Value, error) {
	if v == nil {
		return nil, nil
	}
	if a, ok := v.(resultAppender); ok {
		b, err := a.appendJSON(make([]byte, 0, 1024))
		if err != nil {
			return nil, fmt.Errorf("rpc: encode the result: %w", err)
		}
		return b, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("rpc: encode the result: %w", err)
	}
	return b, nil
}

// record is an outbox record of an encoded message on the control lane,
// for the uplinks of route.
func (d *Dispatcher) record(route outbox.Route, topic string, headers []outbox.Header, payload []byte, t contracts.EventType, correlationID string) outbox.Record {
	r := record.Of(outbox.LaneControl, topic, d.cfg.DeviceID, record.Head{EventType: t, CorrelationID: correlationID}, payload, headers...)
	r.Route = route
	return r
}

// observe tells Config.Observe, when set, of the answer m.
func (d *Dispatcher) observe(m *contracts.DeviceResponseRPC) {
	if d.cfg.Observe == nil {
		return
	}
	method := m.Payload.Method
	if _, known := d.methods[contracts.Method(method)]; !known && method != noMethod {
		method = MethodUnknown
	}
	code := CodeOK
	if m.Error != nil {
		code = m.Error.Code
	}
	d.cfg.Observe(method, code, time.Duration(m.Payload.DurationMs*float64(time.Millisecond)))
}

// stamp formats t as the contract's timestamps are: RFC 3339, UTC,
// milliseconds.
func stamp(t time.Time) string { return t.UTC().Format(contracts.TimeLayout) }
