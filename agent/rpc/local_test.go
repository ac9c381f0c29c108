package rpc

import (
	"bytes"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
)

// local sends payload as a local caller's command (Deliver set) and
// returns the answer delivered.
func (r *rig) local(payload []byte) []byte {
	r.t.Helper()
	answers := make(chan []byte, 2)
	r.d.Handle(uplink.Command{Topic: "local:test", Payload: payload, DeadLetters: topics.DLQ, Ack: func() { r.t.Error("a local command was acknowledged") },
		Deliver: func(answer []byte) { answers <- answer }})
	select {
	case a := <-answers:
		return a
	case <-time.After(20 * time.Second):
		r.t.Fatalf("no answer delivered for %.60q", payload)
		return nil
	}
}

// TestLocalCallerGetsTheAnswer: a local caller's command runs as one from
// the backend does, but its answer goes to the caller alone: none is put
// in the outbox for an uplink. Its correlationId is kept all the same: a
// second call with it gets the first answer without running again, and
// so would the backend's. A refusal comes with its dead letter, as for
// the backend's.
func TestLocalCallerGetsTheAnswer(t *testing.T) {
	r := newRig(t, Config{})
	payload, id := command(t, contracts.MethodGetSensors, "", nil)
	first := r.local(payload)
	m, err := contracts.Decode(first)
	if err != nil {
		t.Fatalf("answer %s: %v", first, err)
	}
	if resp := m.(*contracts.DeviceResponseRPC); resp.Status != contracts.StatusSuccess || resp.CorrelationID != id {
		t.Fatalf("answer %s; want a success to %s", first, id)
	}
	if o := r.decode(r.drain()); o.answer != nil || o.deadLetter != nil {
		t.Errorf("a local call put %v in the outbox; want nothing for the uplinks", o)
	}
	if again := r.local(payload); !bytes.Equal(again, first) {
		t.Errorf("the same correlationId again answered\n%s\nwant the first answer\n%s", again, first)
	}
	if o := r.call(payload); o.answer == nil || o.answer.Timestamp != m.Header().Timestamp {
		t.Errorf("the backend's command with the local one's correlationId: %v; want the answer given", o)
	}

	unknown, _ := command(t, contracts.MethodGetSensors, "", replace(t, `"method":"getSensors"`, `"method":"selfDestruct"`))
	m, err = contracts.Decode(r.local(unknown))
	if err != nil {
		t.Fatal(err)
	}
	if resp := m.(*contracts.DeviceResponseRPC); resp.Error == nil || resp.Error.Code != contracts.CodeMethodNotFound {
		t.Errorf("an unknown method answered %+v; want METHOD_NOT_FOUND", resp)
	}
	if o := r.decode(r.drain()); o.answer != nil || o.deadLetter == nil {
		t.Errorf("after an unknown method the outbox holds %v; want its dead letter only", o)
	}
}
