package rpc

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
)

// The path of one command through the dispatcher, top to bottom: handle
// decodes and routes it, run runs its method once per correlationId,
// execute bounds it by its deadline, land answers every delivery waiting
// for it. Refusals and the answers' making are in answer.go.

// handle decodes and checks a request, then runs its method.
func (d *Dispatcher) handle(req *uplink.Command) {
	if n := req.BodySize(); n > int(d.cfg.MaxCommandBytes) {
		d.deadLetter(req, contracts.DLQTooLarge, req.Payload[:min(len(req.Payload), tooLargeKept)], "",
			fmt.Errorf("rpc: a command of %d bytes is larger than the %d accepted; the first %d are kept here", n, d.cfg.MaxCommandBytes, tooLargeKept))
		return
	}
	if req.Refusal != nil {
		d.refuseUnconverted(req)
		return
	}
	m, err := contracts.Decode(req.Payload)
	if err != nil {
		d.refuseInvalid(req, err)
		return
	}
	if err := onItsTopic(req, m.Header().EventType); err != nil {
		d.refuseMisrouted(req, m, err)
		return
	}
	if h, ok := d.events[m.Header().EventType]; ok {
		d.handleEvent(req, m, h)
		return
	}
	cmd, ok := m.(*contracts.DeviceCommandRPC)
	if !ok {
		err := fmt.Errorf("rpc: eventType %s is not a command this device runs", m.Header().EventType)
		d.refuse(req, m.Header(), "", contracts.CodeInvalidCommand, contracts.DLQInvalid, err)
		return
	}
	now := d.cfg.Clock.Now()
	method, known := d.methods[cmd.Payload.Method]
	switch {
	case cmd.Payload.DeviceID != d.cfg.DeviceID:
		err := fmt.Errorf("rpc: payload.deviceId: the command is for %q; this is %q", cmd.Payload.DeviceID, d.cfg.DeviceID)
		d.refuse(req, &cmd.Envelope, cmd.Payload.Method, contracts.CodeWrongDevice, contracts.DLQWrongDevice, err)
	case cmd.Expired(now):
		err := fmt.Errorf("rpc: expiresAt: the command expired at %s, before it could run", stamp(cmd.ExpiresAt))
		d.refuse(req, &cmd.Envelope, cmd.Payload.Method, contracts.CodeExpired, contracts.DLQExpired, err)
	case !req.Expiry.IsZero() && now.After(req.Expiry):
		err := fmt.Errorf("rpc: the message expired at %s (MQTT Message Expiry), before it could run", stamp(req.Expiry))
		d.refuse(req, &cmd.Envelope, cmd.Payload.Method, contracts.CodeExpired, contracts.DLQExpired, err)
	case !known && slices.Contains(d.cfg.Disable, cmd.Payload.Method):
		err := fmt.Errorf("rpc: payload.method: %s is switched off on this gateway (rpc.disable in its configuration)", cmd.Payload.Method)
		d.refuse(req, &cmd.Envelope, cmd.Payload.Method, contracts.CodeMethodNotFound, contracts.DLQInvalid, err)
	case !known:
		err := fmt.Errorf("rpc: payload.method: this agent does not implement %q", cmd.Payload.Method)
		d.refuse(req, &cmd.Envelope, cmd.Payload.Method, contracts.CodeMethodNotFound, contracts.DLQInvalid, err)
	default:
		d.run(req, cmd, method)
	}
}

// tooLargeKept is how much of a command too large is kept in its dead
// letter.
const tooLargeKept = 1 << 10

// onItsTopic reports a message of type t that came on another Kafka
// topic than the catalogue's for t (when req says which it came on).
func onItsTopic(req *uplink.Command, t contracts.EventType) error {
	if want := t.Topic(); req.Catalogue != "" && want != req.Catalogue {
		return fmt.Errorf("rpc: %s travels on %s; it came on %s", t, want, req.Catalogue)
	}
	return nil
}

// refuseMisrouted refuses m, which came on the wrong topic: an RPC is
// answered INVALID_COMMAND and dead-lettered, as other invalid commands;
// anything else, which gets no answer, is dead-lettered.
func (d *Dispatcher) refuseMisrouted(req *uplink.Command, m contracts.Message, err error) {
	if cmd, ok := m.(*contracts.DeviceCommandRPC); ok {
		d.refuse(req, &cmd.Envelope, cmd.Payload.Method, contracts.CodeInvalidCommand, contracts.DLQInvalid, err)
		return
	}
	d.deadLetter(req, contracts.DLQInvalid, req.Payload, m.Header().CorrelationID, err)
}

// run runs cmd's method once per correlationId: a delivery of a command
// already answered gets that answer, one of a command running waits for
// it.
func (d *Dispatcher) run(req *uplink.Command, cmd *contracts.DeviceCommandRPC, method Method) {
	id := cmd.CorrelationID
	d.mu.Lock()
	if f, ok := d.flights[id]; ok {
		f.waiters = append(f.waiters, req)
		d.mu.Unlock()
		return
	}
	f := &flight{waiters: []*uplink.Command{req}}
	d.flights[id] = f
	d.mu.Unlock()

	// A flight ends only once its answer is kept: looked up after joining
	// the flights, the memo cannot be missed.
	if answer, ok := d.memo(id); ok {
		d.log.answers.Info("again "+string(cmd.Payload.Method), "rpc: answered again: the command was run before", "method", cmd.Payload.Method, "correlationId", id, "replyTopic", req.Reply)
		d.land(id, f, answer, false)
		return
	}
	select {
	case d.running <- struct{}{}:
	default:
		err := fmt.Errorf("rpc: %d commands are running already; try again later", d.cfg.Concurrency)
		d.land(id, f, d.errorAnswer(req, &cmd.Envelope, cmd.Payload.Method, contracts.CodeBusy, err), false)
		return
	}
	d.execute(req, cmd, method, f)
}

// execute runs method within the command's deadline, in this goroutine,
// and lands the flight f with the answer, kept as its memo (with a dead
// letter when the method found the params bad). If the deadline comes
// first, a timer lands it with TIMEOUT instead, and the method's outcome,
// whenever it comes, is dropped. The method's slot in d.running is
// released when it returns.
func (d *Dispatcher) execute(req *uplink.Command, cmd *contracts.DeviceCommandRPC, method Method, f *flight) {
	deadline := req.ReceivedAt.Add(d.cfg.Timeout)
	for _, t := range []time.Time{cmd.ExpiresAt, req.Expiry} {
		if !t.IsZero() && t.Before(deadline) {
			deadline = t
		}
	}
	// The deadline is the clock's: its timer answers TIMEOUT and ends the
	// method's context, which also carries the deadline as the system's
	// time, for what the method calls.
	left := deadline.Sub(d.cfg.Clock.Now())
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(left))
	defer cancel()
	timeout := func() error { // built when needed: most commands finish in time
		return errorf(contracts.CodeTimeout, "%s did not finish within %v", cmd.Payload.Method, deadline.Sub(req.ReceivedAt).Round(time.Millisecond))
	}
	var answered atomic.Bool // by the method's outcome, or by the timer
	d.wg.Add(1)              // the timer's, until it ran or was stopped
	timer := d.cfg.Clock.AfterFunc(left, func() {
		defer d.wg.Done()
		defer cancel()
		if answered.CompareAndSwap(false, true) {
			d.land(cmd.CorrelationID, f, d.encodeOutcome(req, cmd, nil, timeout()), true)
		}
	})
	result, err := d.call(context.WithValue(ctx, commandKey{}, cmd), cmd, method)
	if ctx.Err() != nil { // it returned, cut short, at its deadline: too late
		result, err = nil, timeout()
	}
	<-d.running
	if timer.Stop() {
		d.wg.Done()
	}
	if !answered.CompareAndSwap(false, true) {
		return // TIMEOUT was answered
	}
	var letters []outbox.Record
	if e, ok := err.(*Error); ok && e.Code == contracts.CodeInvalidCommand { // bad input: a dead letter too
		if l := d.letter(req, contracts.DLQInvalid, req.Payload, cmd.CorrelationID, err); l != nil {
			letters = append(letters, *l)
		}
	}
	d.land(cmd.CorrelationID, f, d.encodeOutcome(req, cmd, result, err), true, letters...)
	if then, ok := result.(afterAnswer); ok && err == nil {
		then.afterAnswer()
	}
}

// afterAnswer is a result with something to do once it is answered (the
// answer in the outbox): restartAgent's restart.
type afterAnswer interface{ afterAnswer() }

// call runs method, turning a panic into INTERNAL.
func (d *Dispatcher) call(ctx context.Context, cmd *contracts.DeviceCommandRPC, method Method) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			d.log.problems.Error("panic "+string(cmd.Payload.Method), "rpc: method panicked", "method", cmd.Payload.Method, "correlationId", cmd.CorrelationID,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			result, err = nil, errorf(contracts.CodeInternal, "%s failed: %v", cmd.Payload.Method, r)
		}
	}()
	return method(ctx, cmd.Payload.Params)
}

// encodeOutcome encodes the answer to cmd for a method's result or error:
// an *Error answers its code, another error INTERNAL, and so does a result
// the contract refuses (one that is not a JSON object: a bug in the
// method). It returns nil (logged) if the answer cannot be encoded.
func (d *Dispatcher) encodeOutcome(req *uplink.Command, cmd *contracts.DeviceCommandRPC, result any, err error) []byte {
	p := d.answerPayload(req, cmd.Payload.Method)
	if err == nil {
		if p.Result, err = encodeResult(result); err == nil {
			var answer []byte
			if answer, err = d.encodeAnswer(req, contracts.NewDeviceResponseRPC(d.origin, &cmd.Envelope, p)); err == nil {
				return answer
			}
		}
	}
	code := contracts.CodeInternal
	if e, ok := err.(*Error); ok {
		code = e.Code
	}
	p.Result = nil
	answer, err := d.encodeAnswer(req, contracts.NewDeviceResponseRPCError(d.origin, &cmd.Envelope, p, code, err.Error()))
	if err != nil {
		d.log.problems.Error("encode answer", "rpc: cannot encode the answer", "correlationId", cmd.CorrelationID, "err", err)
		return nil
	}
	return answer
}

// land ends a flight: it appends answer for every delivery waiting, kept
// as the command's memo when keep is set, and the extra records,
// acknowledges them, and forgets the flight. A nil answer (it could not be built) is acknowledged
// unanswered.
func (d *Dispatcher) land(id string, f *flight, answer []byte, keep bool, extra ...outbox.Record) {
	d.mu.Lock()
	waiters := f.waiters
	d.mu.Unlock()
	d.answer(id, waiters, answer, keep, extra...)
	// Deliveries that came meanwhile: the memo is kept now.
	d.mu.Lock()
	late := f.waiters[len(waiters):]
	delete(d.flights, id)
	d.mu.Unlock()
	if len(late) > 0 {
		d.answer(id, late, answer, false)
	}
}

// answer appends the encoded answer for each request, kept as the memo of
// the command id when keep is set, then acknowledges the requests. When
// the outbox refuses, they stay unacknowledged: the broker delivers them
// again.
//
// extra records (a dead letter) go in along with them.
func (d *Dispatcher) answer(id string, reqs []*uplink.Command, answer []byte, keep bool, extra ...outbox.Record) {
	if answer == nil {
		for _, r := range reqs {
			r.Answered(nil, true)
		}
		return
	}
	recs := make([]outbox.Record, 0, len(reqs)+len(extra))
	for _, r := range reqs {
		if !r.Local() { // a local caller's answer goes to it alone
			recs = append(recs, d.record(r.Route, r.Reply, r.ReplyHeaders, answer, contracts.TypeDeviceResponseRPC, id))
		}
	}
	recs = append(recs, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	var err error
	switch {
	case keep:
		err = d.box.AppendMemo(ctx, outbox.Memo{Key: memoKey(id), Value: answer}, recs...)
	case len(recs) > 0:
		err = d.box.Append(ctx, recs...)
	}
	if err != nil {
		d.log.problems.Error("queue answer", "rpc: cannot queue the answer; the command comes again with the next connection", "correlationId", id, "err", err)
	}
	for _, r := range reqs {
		r.Answered(answer, err == nil)
	}
}

// appendTimeout bounds putting an answer in the outbox.
const appendTimeout = 10 * time.Second

// memo returns the answer kept for the command id, if any.
func (d *Dispatcher) memo(id string) ([]byte, bool) {
	answer, ok, err := d.box.Memo(memoKey(id))
	if err != nil {
		d.log.problems.Error("read memo", "rpc: read the answers given", "correlationId", id, "err", err)
	}
	return answer, ok
}

func memoKey(correlationID string) string { return "rpc/" + correlationID }
