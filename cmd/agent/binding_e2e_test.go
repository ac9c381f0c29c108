package main

import (
	stdjson "encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
)

// TestBinding: the backend's device.bound and device.unbound for the
// gateway, over MQTT, are kept and shown by getDeviceState; a stale one
// (older than the binding) changes nothing; one for another device is a
// dead letter; the binding outlives a restart.
func TestBinding(t *testing.T) {
	const id = "gw-binding"
	r := launchRPCRig(t, id, "")
	r.waitReady(t)
	backend := contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "device-service"}}
	t0 := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
	publish := func(m contracts.Message) []byte {
		t.Helper()
		b, err := contracts.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		r.send(t, b, m.Header().CorrelationID, nil)
		return b
	}
	type bindingState struct {
		Bound  bool   `json:"bound"`
		UserID string `json:"userId"`
		Since  string `json:"since"`
	}
	state := func() bindingState {
		t.Helper()
		cid, body := rpcCommand(id, "getDeviceState", "", nil)
		r.send(t, body, cid, nil)
		resp, _ := r.answer(t, cid)
		var res struct {
			Binding bindingState `json:"binding"`
		}
		if err := stdjson.Unmarshal(resp.Payload.Result, &res); err != nil {
			t.Fatal(err)
		}
		return res.Binding
	}
	waitState := func(what string, want bindingState) {
		t.Helper()
		var got bindingState
		waitUntil(t, 30*time.Second, what, func() bool { got = state(); return got == want })
	}
	stamp := func(at time.Time) string { return at.Format(contracts.TimeLayout) }

	if got := state(); got != (bindingState{}) {
		t.Fatalf("a new gateway's binding: %+v; want unbound, no user", got)
	}
	publish(contracts.NewDeviceBound(backend, contracts.DeviceBoundPayload{DeviceID: id, UserID: "user-17", BoundAt: t0}))
	waitState("bound to user-17", bindingState{Bound: true, UserID: "user-17", Since: stamp(t0)})

	publish(contracts.NewDeviceUnbound(backend, contracts.DeviceUnboundPayload{DeviceID: id, UserID: "user-9", UnboundAt: t0.Add(-time.Minute)}))
	r.agent.waitLog(t, `"msg":"binding: a stale unbound event ignored: the binding is newer"`, 30*time.Second)
	if got := state(); got != (bindingState{Bound: true, UserID: "user-17", Since: stamp(t0)}) {
		t.Errorf("after a stale unbound: %+v; want still bound to user-17", got)
	}

	other := publish(contracts.NewDeviceBound(backend, contracts.DeviceBoundPayload{DeviceID: "gw-other", UserID: "user-3", BoundAt: t0.Add(time.Minute)}))
	r.deadLetter(t, other, contracts.DLQInvalid)

	publish(contracts.NewDeviceUnbound(backend, contracts.DeviceUnboundPayload{DeviceID: id, UserID: "user-17", UnboundAt: t0.Add(2 * time.Minute)}))
	unbound := bindingState{UserID: "user-17", Since: stamp(t0.Add(2 * time.Minute))}
	waitState("unbound", unbound)

	if code := r.agent.stop(t, syscall.SIGTERM); code != exitOK {
		t.Errorf("exit code after SIGTERM = %d", code)
	}
	r.agent = startAgent(t, r.config)
	r.waitReady(t)
	if got := state(); got != unbound {
		t.Errorf("after a restart: %+v; want %+v", got, unbound)
	}
}
