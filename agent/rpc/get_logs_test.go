package rpc

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/logring"
)

// TestGetLogs: getLogs answers the ring's lines as JSON objects, oldest
// first, the last params.lines, since params.since, at params.level and
// above, with how many matched and were dropped; params out of range are
// INVALID_COMMAND naming the field.
func TestGetLogs(t *testing.T) {
	ring := logring.New(64 << 10)
	log := slog.New(ring.Handler(slog.DiscardHandler, slog.LevelInfo))
	for i := range 5 {
		log.Info(fmt.Sprintf("reading %d", i), "sensor", "t1")
	}
	log.Warn("uplink lost", "err", "EOF")
	since := time.Now()
	time.Sleep(2 * time.Millisecond)
	log.Error("outbox full")
	r := newRig(t, Config{}, func(d *Deps) { d.Logs = ring })

	type result struct {
		Lines []struct {
			Msg   string `json:"msg"`
			Level string `json:"level"`
		} `json:"lines"`
		Matched   int    `json:"matched"`
		Dropped   uint64 `json:"dropped"`
		Oldest    string `json:"oldest"`
		RingBytes int    `json:"ringBytes"`
	}
	call := func(params string) (result, *contracts.DeviceResponseRPC) {
		t.Helper()
		payload, _ := command(t, contracts.MethodGetLogs, params, nil)
		o := r.call(payload)
		if o.answer == nil {
			t.Fatalf("getLogs %s: no answer (%v)", params, o)
		}
		var res result
		if o.answer.Status == contracts.StatusSuccess {
			if err := json.Unmarshal(o.answer.Payload.Result, &res); err != nil {
				t.Fatalf("result %s: %v", o.answer.Payload.Result, err)
			}
		}
		return res, o.answer
	}
	msgs := func(res result) string {
		var ms []string
		for _, l := range res.Lines {
			ms = append(ms, l.Msg)
		}
		return strings.Join(ms, ", ")
	}

	if res, _ := call(""); msgs(res) != "reading 0, reading 1, reading 2, reading 3, reading 4, uplink lost, outbox full" ||
		res.Matched != 7 || res.RingBytes != 64<<10 || res.Oldest == "" {
		t.Errorf("getLogs = %+v", res)
	}
	if res, _ := call(`{"lines": 2}`); msgs(res) != "uplink lost, outbox full" || res.Matched != 7 {
		t.Errorf("lines 2: %s of %d", msgs(res), res.Matched)
	}
	if res, _ := call(`{"level": "warn"}`); msgs(res) != "uplink lost, outbox full" {
		t.Errorf("level warn: %s", msgs(res))
	}
	if res, _ := call(fmt.Sprintf(`{"since": %q}`, since.Format(time.RFC3339Nano))); msgs(res) != "outbox full" {
		t.Errorf("since: %s", msgs(res))
	}
	for _, tt := range []struct{ params, field string }{
		{`{"lines": 0.5}`, "params.lines"},
		{`{"lines": 5001}`, "params.lines"},
		{`{"lines": -1}`, "params.lines"},
		{`{"since": "yesterday"}`, "params.since"},
		{`{"level": "loud"}`, "params.level"},
		{`{"level": "info+2"}`, "params.level"},
		{`{"tail": true}`, "tail"},
	} {
		if _, a := call(tt.params); a.Error == nil || a.Error.Code != contracts.CodeInvalidCommand || !strings.Contains(a.Error.Message, tt.field) {
			t.Errorf("params %s answered %+v; want INVALID_COMMAND naming %s", tt.params, a.Error, tt.field)
		}
	}
}

// TestDisabledMethod: a method in rpc.disable is answered METHOD_NOT_FOUND
// saying it is switched off, with a dead letter, and does not run.
func TestDisabledMethod(t *testing.T) {
	r := newRig(t, Config{Settings: Settings{Disable: []contracts.Method{contracts.MethodGetSensors}}})
	payload, _ := command(t, contracts.MethodGetSensors, "", nil)
	o := r.call(payload)
	if o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeMethodNotFound || !strings.Contains(o.answer.Error.Message, "switched off") {
		t.Errorf("a switched-off method answered %v; want METHOD_NOT_FOUND, switched off", o)
	}
	if o.deadLetter == nil {
		t.Error("no dead letter for a switched-off method")
	}
	if payload, _ := command(t, contracts.MethodGetDeviceState, "", nil); r.call(payload).answer.Status != contracts.StatusSuccess {
		t.Error("getDeviceState, not switched off, failed")
	}
	bad := Settings{Disable: []contracts.Method{"selfDestruct"}}
	bad.SetDefaults()
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "disable[0]") {
		t.Errorf("Validate of an unknown method to disable = %v; want an error naming disable[0]", err)
	}
}
