package rpc

import (
	"bytes"
	"context"
	"encoding/base64"
	stdjson "encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/clocktest"
)

func TestAnswersGetDeviceState(t *testing.T) {
	r := newRig(t, Config{})
	payload, id := command(t, contracts.MethodGetDeviceState, "", nil)
	o := r.call(payload)
	if o.answer == nil || o.answer.Status != contracts.StatusSuccess || o.deadLetter != nil {
		t.Fatalf("got %v; want a successful answer and no dead letter", o)
	}
	a := o.answer
	if a.CorrelationID != id || a.Payload.DeviceID != device || a.Payload.Method != "getDeviceState" || a.Payload.DurationMs <= 0 {
		t.Errorf("answer %+v; want correlationId %s, this device, the method, a duration", a, id)
	}
	if o.answerRec.Topic != "backend/replies" || o.answerRec.Lane.String() != "control" {
		t.Errorf("answer on %q lane %v; want the reply topic on the control lane", o.answerRec.Topic, o.answerRec.Lane)
	}
	headers := map[string]string{}
	for _, h := range o.answerRec.Headers {
		headers[h.Key] = string(h.Value)
	}
	if headers["mqtt.correlation-data"] != "cd" || headers[contracts.HeaderCorrelationID] != id || headers[contracts.HeaderEventType] != "device.response.rpc" {
		t.Errorf("answer headers %v; want the request's reply headers and the envelope's", headers)
	}
	var result struct {
		DeviceID, AgentVersion, OS string
		Sensors                    struct{ Total int }
		Disk                       struct{ TotalBytes uint64 }
	}
	if err := jsonUnmarshal(a.Payload.Result, &result); err != nil {
		t.Fatal(err)
	}
	if result.DeviceID != device || result.AgentVersion != "test" || result.OS == "" || result.Sensors.Total != 1 || result.Disk.TotalBytes == 0 {
		t.Errorf("result %s lacks what the device state says", a.Payload.Result)
	}
}

// Every refusal: the code answered (if any) and the dead letter's reason.
func TestRefusals(t *testing.T) {
	r := newRig(t, Config{})
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name      string
		edit      func(string) string
		code      string // "" for no answer
		reason    string
		inMessage string
	}{
		{"missing requestedBy", replace(t, `"requestedBy":"tester"`, `"requestedBy":""`), contracts.CodeInvalidCommand, contracts.DLQInvalid, "payload.requestedBy"},
		{"wrong type", replace(t, `"deviceId":"gw-test"`, `"deviceId":7`), contracts.CodeInvalidCommand, contracts.DLQInvalid, "payload.deviceId"},
		{"version v2", replace(t, `"__version":"v1"`, `"__version":"v2"`), contracts.CodeUnsupportedVersion, contracts.DLQUnsupportedVersion, "v2"},
		{"unknown method", replace(t, `"method":"getDeviceState"`, `"method":"reboot"`), contracts.CodeMethodNotFound, contracts.DLQInvalid, "reboot"},
		{"other device", replace(t, `"deviceId":"gw-test"`, `"deviceId":"gw-other"`), contracts.CodeWrongDevice, contracts.DLQWrongDevice, "gw-other"},
		{"expired", func(s string) string {
			i := strings.Index(s, `"expiresAt":"`) + len(`"expiresAt":"`)
			return s[:i] + past + s[i+strings.IndexByte(s[i:], '"'):]
		}, contracts.CodeExpired, contracts.DLQExpired, "expired"},
		{"unknown event type", replace(t, `"eventType":"device.command.rpc"`, `"eventType":"device.reboot"`), contracts.CodeInvalidCommand, contracts.DLQUnknownEventType, "device.reboot"},
		{"no correlationId", replace(t, `"correlationId":`, `"correlationID":`), "", contracts.DLQUnanswerable, "correlationId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload, id := command(t, contracts.MethodGetDeviceState, "", tc.edit)
			o := r.call(payload)
			if tc.code == "" {
				if o.answer != nil {
					t.Errorf("answered %+v; want no answer", o.answer)
				}
			} else if o.answer == nil || o.answer.Status != contracts.StatusError || o.answer.Error.Code != tc.code ||
				o.answer.CorrelationID != id || !strings.Contains(o.answer.Error.Message, tc.inMessage) {
				t.Errorf("got %v; want an error answer %s to %s naming %q", o, tc.code, id, tc.inMessage)
			}
			if o.deadLetter == nil || o.deadLetter.Payload.Reason != tc.reason || !bytes.Equal(mustBytes(t, o.deadLetter), payload) {
				t.Fatalf("dead letter %+v; want reason %s with the raw command", o.deadLetter, tc.reason)
			}
			if tc.code != "" && o.deadLetter.CorrelationID != id {
				t.Errorf("dead letter's correlationId %s; want the command's, %s, to trace it", o.deadLetter.CorrelationID, id)
			}
		})
	}
}

// TestRefusedByTheUplink hands the dispatcher commands that their uplink
// could not convert from an old format (uplink.Refusal): each is a dead
// letter holding the command as received, with the uplink's
// correlationId; one that names a method is answered too, with that id.
func TestRefusedByTheUplink(t *testing.T) {
	r := newRig(t, Config{})
	const id = "6f1c1a43-3c27-4a8c-9d0e-2f4b8c1d7e6a"
	for _, tc := range []struct {
		name, payload, method string
		err                   error
		code, reason          string // code "": no answer
	}{
		{"malformed", `{"method":`, "", contracts.ErrMalformed, "", contracts.DLQMalformed},
		{"no method", `{"deviceId":"gw-test"}`, "", contracts.ErrRequired, "", contracts.DLQUnanswerable},
		{"unknown method", `{"method":"reboot"}`, "reboot", contracts.ErrUnknownMethod, contracts.CodeMethodNotFound, contracts.DLQInvalid},
		{"invalid", `{"method":"getSensors","timeout":50}`, "getSensors", contracts.ErrInvalidValue, contracts.CodeInvalidCommand, contracts.DLQInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request([]byte(tc.payload))
			req.Refusal = &uplink.Refusal{Err: fmt.Errorf("legacy: decode command: %w", tc.err), Method: tc.method, CorrelationID: id}
			r.send(req)
			o := r.decode(r.drain())
			if tc.code == "" && o.answer != nil {
				t.Errorf("answered %+v; want no answer", o.answer)
			}
			if tc.code != "" && (o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != tc.code || o.answer.CorrelationID != id ||
				o.answer.Payload.Method != tc.method || !strings.Contains(o.answer.Error.Message, "legacy: decode command")) {
				t.Errorf("got %v; want an error answer %s to %s, method %s", o, tc.code, id, tc.method)
			}
			if o.deadLetter == nil || o.deadLetter.Payload.Reason != tc.reason || string(mustBytes(t, o.deadLetter)) != tc.payload || o.deadLetter.CorrelationID != id {
				t.Errorf("dead letter %+v; want reason %s with the command as received, correlationId %s", o.deadLetter, tc.reason, id)
			}
		})
	}
}

func TestExpiredByMessageExpiry(t *testing.T) {
	r := newRig(t, Config{})
	payload, _ := command(t, contracts.MethodGetDeviceState, "", nil)
	req := request(payload)
	req.Expiry = time.Now().Add(-time.Second)
	r.send(req)
	o := r.decode(r.drain())
	if o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeExpired || o.deadLetter == nil {
		t.Errorf("got %v; want EXPIRED and a dead letter for a command past its MQTT Message Expiry", o)
	}
}

func TestNotJSONAndTooLargeAreDeadLetters(t *testing.T) {
	r := newRig(t, Config{Settings: Settings{MaxCommandBytes: 4 << 10}})
	o := r.call([]byte("this is not JSON"))
	if o.answer != nil || o.deadLetter == nil || o.deadLetter.Payload.Reason != contracts.DLQMalformed {
		t.Errorf("not JSON: got %v; want only a malformed dead letter", o)
	}
	huge := bytes.Repeat([]byte("x"), 5<<10)
	o = r.call(huge)
	if o.answer != nil || o.deadLetter == nil || o.deadLetter.Payload.Reason != contracts.DLQTooLarge ||
		len(mustBytes(t, o.deadLetter)) != tooLargeKept || !strings.Contains(o.deadLetter.Payload.Error, "5120 bytes") {
		t.Errorf("too large: got %v; want a too_large dead letter with the first %d bytes", o, tooLargeKept)
	}
	// The uplink read only the start of a command of 10 MB.
	req := request(huge[:4<<10+1])
	req.Size = 10 << 20
	r.send(req)
	o = r.decode(r.drain())
	if o.deadLetter == nil || o.deadLetter.Payload.Reason != contracts.DLQTooLarge || !strings.Contains(o.deadLetter.Payload.Error, "10485760 bytes") {
		t.Errorf("cut short: got %v; want a too_large dead letter naming its size as sent", o)
	}
}

func TestTimeoutBusyAndPanic(t *testing.T) {
	r := newRig(t, Config{Settings: Settings{Concurrency: 1, Timeout: 200 * time.Millisecond}})
	release := make(chan struct{})
	var runs atomic.Int32
	r.d.methods[contracts.MethodGetSensors] = func(ctx context.Context, _ jsontext.Value) (any, error) {
		runs.Add(1)
		<-release // ignores ctx: the slot stays taken after its deadline
		return map[string]string{"at": "late"}, nil
	}
	r.d.methods[contracts.MethodGetDeviceState] = func(context.Context, jsontext.Value) (any, error) {
		panic("a bug")
	}
	slow, _ := command(t, contracts.MethodGetSensors, "", nil)
	o := r.call(slow)
	if o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeTimeout || o.deadLetter != nil {
		t.Fatalf("slow method: got %v; want TIMEOUT and no dead letter", o)
	}
	busy, _ := command(t, contracts.MethodGetSensors, "", nil)
	o = r.call(busy)
	if o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeBusy {
		t.Fatalf("while the slot is taken: got %v; want BUSY", o)
	}
	close(release)
	waitFor(t, "the slot to come free", func() bool { return len(r.d.running) == 0 })
	bug, _ := command(t, contracts.MethodGetDeviceState, "", nil)
	o = r.call(bug)
	if o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeInternal || !strings.Contains(o.answer.Error.Message, "a bug") {
		t.Fatalf("panicking method: got %v; want INTERNAL naming the panic", o)
	}
	// The agent keeps answering, and BUSY was not remembered: the same
	// command runs now.
	o = r.call(busy)
	if o.answer == nil || o.answer.Status != contracts.StatusSuccess || runs.Load() != 2 {
		t.Errorf("the command refused BUSY, sent again: got %v after %d runs; want it run and answered", o, runs.Load())
	}
}

// A command delivered again, even after a restart, is answered from the
// answer kept, not run twice.
func TestRunsOncePerCorrelationIDAcrossRestarts(t *testing.T) {
	r := newRig(t, Config{})
	var runs atomic.Int32
	counting := func(context.Context, jsontext.Value) (any, error) { return runs.Add(1), nil }
	r.d.methods[contracts.MethodGetSensors] = counting
	payload, id := command(t, contracts.MethodGetSensors, "", nil)
	first := r.call(payload)
	r.close()
	r.open(Config{})
	r.d.methods[contracts.MethodGetSensors] = counting
	again := r.call(payload)
	if runs.Load() != 1 {
		t.Errorf("the method ran %d times; want once", runs.Load())
	}
	if again.answer == nil || again.answer.CorrelationID != id || string(again.answer.Payload.Result) != string(first.answer.Payload.Result) {
		t.Errorf("answer after restart %v; want the first answer again (%s)", again, first.answer.Payload.Result)
	}
}

// Deliveries of a command that is running wait for its answer.
func TestConcurrentDeliveriesRunOnce(t *testing.T) {
	r := newRig(t, Config{})
	release := make(chan struct{})
	var runs atomic.Int32
	r.d.methods[contracts.MethodGetSensors] = func(context.Context, jsontext.Value) (any, error) {
		runs.Add(1)
		<-release
		return map[string]bool{"done": true}, nil
	}
	payload, _ := command(t, contracts.MethodGetSensors, "", nil)
	var acked sync.WaitGroup
	for range 3 {
		acked.Add(1)
		req := request(payload)
		req.Ack = acked.Done
		r.d.Handle(req)
	}
	time.Sleep(50 * time.Millisecond) // let the deliveries join the flight
	close(release)
	acked.Wait()
	answers := 0
	for _, e := range r.drain() {
		if e.Topic == "backend/replies" {
			answers++
		}
	}
	if runs.Load() != 1 || answers != 3 {
		t.Errorf("%d runs, %d answers for 3 deliveries; want 1 run and 3 answers", runs.Load(), answers)
	}
}

// A storm of bad input does not keep valid commands from being answered.
func TestStormOfMalformedCommands(t *testing.T) {
	r := newRig(t, Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	var bad [][]byte
	valid, _ := command(t, contracts.MethodGetDeviceState, "", nil)
	for i := range 1000 {
		switch i % 4 {
		case 0:
			b := make([]byte, rng.IntN(300))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			bad = append(bad, b)
		case 1: // valid JSON, cut short
			bad = append(bad, valid[:rng.IntN(len(valid))])
		case 2:
			bad = append(bad, bytes.Repeat([]byte("{"), DefaultMaxCommandBytes+1))
		case 3: // a byte changed
			b := bytes.Clone(valid)
			b[rng.IntN(len(b))] = byte(rng.Uint32())
			bad = append(bad, b)
		}
	}
	var acks atomic.Int32
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, b := range bad {
			req := request(b)
			req.Ack = func() { acks.Add(1) }
			r.d.Handle(req)
		}
	})
	const answered = 20
	for range answered {
		payload, _ := command(t, contracts.MethodGetDeviceState, "", nil)
		r.send(request(payload)) // returns once answered, amid the storm
	}
	wg.Wait()
	r.d.Close()
	success, letters := 0, 0
	for _, e := range r.drain() {
		m, err := contracts.Decode(e.Payload)
		if err != nil {
			t.Fatalf("invalid message in the outbox: %v", err)
		}
		switch m := m.(type) {
		case *contracts.DeviceResponseRPC:
			if m.Status == contracts.StatusSuccess {
				success++
			}
		case *contracts.SystemDLQ:
			letters++
		}
	}
	if success < answered {
		t.Errorf("%d successful answers; want at least the %d valid commands", success, answered)
	}
	// A bad message is dead-lettered once, unless a changed byte left it
	// a valid command: then it is answered success instead.
	if int(acks.Load()) != len(bad) || letters+success-answered != len(bad) {
		t.Errorf("%d of %d bad messages acknowledged; %d dead letters and %d successes beyond the %d valid commands; want one or the other per bad message",
			acks.Load(), len(bad), letters, success-answered, answered)
	}
}

func TestGetSensors(t *testing.T) {
	r := newRig(t, Config{})
	for _, tc := range []struct {
		params, code, inMessage string
	}{
		{`{"sensors":["t1"],"fresh":true}`, "", ""},
		{`{}`, "", ""},
		{`{"sensors":["nope"]}`, contracts.CodeInvalidCommand, `"nope"`},
		{`{"fresh":"yes"}`, contracts.CodeInvalidCommand, "params.fresh"},
		{`{"colour":"red"}`, contracts.CodeInvalidCommand, "colour"},
	} {
		payload, _ := command(t, contracts.MethodGetSensors, tc.params, nil)
		o := r.call(payload)
		switch {
		case o.answer == nil:
			t.Errorf("params %s: no answer", tc.params)
		case tc.code == "" && (o.answer.Status != contracts.StatusSuccess || !strings.Contains(string(o.answer.Payload.Result), `"name":"t1"`)):
			t.Errorf("params %s: got %v; want t1's status", tc.params, o)
		case tc.code != "" && (o.answer.Error == nil || o.answer.Error.Code != tc.code || !strings.Contains(o.answer.Error.Message, tc.inMessage)):
			t.Errorf("params %s: got %v; want %s naming %s", tc.params, o, tc.code, tc.inMessage)
		case tc.code != "" && (o.deadLetter == nil || o.deadLetter.Payload.Reason != contracts.DLQInvalid || o.deadLetter.CorrelationID != o.answer.CorrelationID):
			t.Errorf("params %s: dead letter %+v; want an invalid one with the command's correlationId", tc.params, o.deadLetter)
		case tc.code == "" && o.deadLetter != nil:
			t.Errorf("params %s: dead letter %+v for a good command", tc.params, o.deadLetter)
		}
	}
}

// The contract's result is a JSON object or absent: a method's result
// that encodes as anything else is a bug in the method, answered INTERNAL
// with the contract's reason, not sent as a response the backend refuses.
func TestResultIsAnObjectOrAbsent(t *testing.T) {
	r := newRig(t, Config{})
	var nilMap map[string]int
	var nilPointer *struct{ N int }
	for _, tc := range []struct {
		name   string
		result any
		want   string // the result; "" for none, or the INTERNAL message's end
		ok     bool
	}{
		{"nil", nil, "", true},
		{"struct", struct{ N int }{7}, `{"N":7}`, true},
		{"map", map[string]int{"n": 7}, `{"n":7}`, true},
		{"nil map", nilMap, `{}`, true},
		{"nil pointer", nilPointer, "payload.result: want object, got null", false},
		{"slice", []int{1, 2}, "payload.result: want object, got array", false},
		{"string", "done", "payload.result: want object, got string", false},
		{"number", 42, "payload.result: want object, got number", false},
		{"boolean", true, "payload.result: want object, got boolean", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.d.methods[contracts.MethodGetSensors] = func(context.Context, jsontext.Value) (any, error) { return tc.result, nil }
			payload, _ := command(t, contracts.MethodGetSensors, "", nil)
			o := r.call(payload)
			switch {
			case o.answer == nil:
				t.Fatalf("got %v; want an answer", o)
			case tc.ok && (o.answer.Status != contracts.StatusSuccess || string(o.answer.Payload.Result) != tc.want):
				t.Errorf("got %v, result %s; want success with result %q", o, o.answer.Payload.Result, tc.want)
			case !tc.ok && (o.answer.Error == nil || o.answer.Error.Code != contracts.CodeInternal ||
				!strings.HasSuffix(o.answer.Error.Message, tc.want) || o.answer.Payload.Result != nil):
				t.Errorf("got %v; want INTERNAL ending %q and no result", o, tc.want)
			}
		})
	}
}

// Every method of the agent answers an object, the result the contract
// allows.
func TestEveryMethodAnswersAnObject(t *testing.T) {
	r := newRig(t, Config{}, func(d *Deps) {
		d.Restart = func(string) {}
		d.Update = func(context.Context, UpdateRequest) error { return nil }
		d.SetConfig = func(context.Context, ConfigChange) (ConfigPlan, error) {
			return ConfigPlan{RollbackAfter: "5m0s", Keep: func(string, string) error { return nil }, Restart: func() {}}, nil
		}
	})
	type call struct {
		method contracts.Method
		params string
	}
	sig := base64.StdEncoding.EncodeToString(make([]byte, 64))
	calls := []call{{contracts.MethodGetSensors, `{"fresh":true}`}, {contracts.MethodSetConfig, `{"patch":{}}`},
		{contracts.MethodUpdateAgent, `{"url":"https://releases/agent","sha256":"` + strings.Repeat("0", 64) + `","signature":"` + sig + `","version":"v2"}`}}
	for _, name := range contracts.Method("").Values() {
		if name != string(contracts.MethodSetConfig) && name != string(contracts.MethodUpdateAgent) { // params required
			calls = append(calls, call{contracts.Method(name), ""})
		}
	}
	for _, c := range calls {
		payload, _ := command(t, c.method, c.params, nil)
		o := r.call(payload)
		if o.answer == nil || o.answer.Status != contracts.StatusSuccess || o.answer.Payload.Result.Kind() != '{' {
			t.Errorf("%s params %q: got %v; want success with an object result", c.method, c.params, o)
		}
	}
}

func TestEveryContractMethodHasAHandler(t *testing.T) {
	m := methods(Deps{}, Config{}.withDefaults(), nil)
	for _, name := range contracts.Method("").Values() {
		if m[contracts.Method(name)] == nil {
			t.Errorf("method %s of the contract has no handler in methods.go", name)
		}
	}
	if len(m) != len(contracts.Method("").Values()) {
		t.Errorf("methods.go has %d methods; the contract %d", len(m), len(contracts.Method("").Values()))
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustBytes(t *testing.T, m *contracts.SystemDLQ) []byte {
	t.Helper()
	b, err := contracts.Bytes(m.Payload.Raw, m.Payload.RawEncoding)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonUnmarshal decodes b with encoding/json, whose names match any case.
func jsonUnmarshal(b []byte, v any) error {
	if err := stdjson.Unmarshal(b, v); err != nil {
		return fmt.Errorf("result %s: %w", b, err)
	}
	return nil
}

// A method that gives up at its deadline and returns a result anyway did
// not finish in time: TIMEOUT, not its late result.
func TestMethodCutShortAtItsDeadlineIsATimeout(t *testing.T) {
	r := newRig(t, Config{Settings: Settings{Timeout: 100 * time.Millisecond}})
	r.d.methods[contracts.MethodGetSensors] = func(ctx context.Context, _ jsontext.Value) (any, error) {
		<-ctx.Done()
		return map[string]bool{"partial": true}, nil
	}
	for range 5 { // the method's return and the timer race: both must say TIMEOUT
		payload, _ := command(t, contracts.MethodGetSensors, "", nil)
		o := r.call(payload)
		if o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeTimeout {
			t.Fatalf("got %v; want TIMEOUT", o)
		}
	}
}

// TestTimeoutOnTheClock: the deadline is the clock's: a method still
// running when the test's clock passes it is answered TIMEOUT, and its
// context ends, with no real wait; durationMs is the clock's too.
func TestTimeoutOnTheClock(t *testing.T) {
	clk := clocktest.New(clocktest.Start)
	r := newRig(t, Config{Clock: clk, Settings: Settings{Timeout: 10 * time.Second}})
	ended := make(chan struct{})
	r.d.methods[contracts.MethodGetSensors] = func(ctx context.Context, _ jsontext.Value) (any, error) {
		<-ctx.Done()
		close(ended)
		return nil, ctx.Err()
	}
	payload, _ := command(t, contracts.MethodGetSensors, "", nil)
	req := request(payload)
	acked := make(chan struct{})
	req.Ack = func() { close(acked) }
	r.d.Handle(req)
	waitFor(t, "the method's deadline armed on the clock", func() bool { return clk.Timers() == 1 })
	clk.Advance(10*time.Second - time.Millisecond)
	select {
	case <-acked:
		t.Fatal("answered before the deadline")
	case <-ended:
		t.Fatal("the method's context ended before the deadline")
	default:
	}
	clk.Advance(time.Millisecond)
	<-acked
	<-ended
	o := r.decode(r.drain())
	if o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeTimeout || o.answer.Payload.DurationMs != 10000 {
		t.Fatalf("got %v; want TIMEOUT after 10000 ms", o)
	}
}

// TestWorkersWaitUpToConcurrency: of the workers a burst of requests
// started, Concurrency wait for more once done, the rest end; Close ends
// those waiting.
func TestWorkersWaitUpToConcurrency(t *testing.T) {
	r := newRig(t, Config{Settings: Settings{Concurrency: 2}})
	release := make(chan struct{})
	r.d.methods[contracts.MethodGetSensors] = func(context.Context, jsontext.Value) (any, error) {
		<-release
		return map[string]string{}, nil
	}
	var wg sync.WaitGroup
	for range 10 { // 2 run, 8 are answered BUSY
		cmd, _ := command(t, contracts.MethodGetSensors, "", nil)
		wg.Go(func() { r.send(request(cmd)) })
	}
	waitFor(t, "the BUSY answers", func() bool { return r.d.waiting.Load() == 2 })
	close(release)
	wg.Wait()
	waitFor(t, "the workers done", func() bool { return len(r.d.intake) == 0 })
	r.drain() // the burst's answers
	if n := r.d.waiting.Load(); n != 2 {
		t.Errorf("%d workers wait after the burst; want Concurrency, 2", n)
	}
	again, _ := command(t, contracts.MethodGetDeviceState, "", nil)
	if o := r.call(again); o.answer == nil || o.answer.Status != contracts.StatusSuccess {
		t.Fatalf("a request to a waiting worker: got %v; want it answered", o)
	}
	r.d.Close()
	if n := r.d.waiting.Load(); n != 0 {
		t.Errorf("%d workers wait after Close; want none", n)
	}
}

// TestAJoinedDeliveryKeepsItsRequest: a delivery that joins a command's
// flight is answered as it came, with its own reply topic and
// acknowledgement, even when the worker that took it has gone on to
// another request meanwhile.
func TestAJoinedDeliveryKeepsItsRequest(t *testing.T) {
	r := newRig(t, Config{})
	release := make(chan struct{})
	r.d.methods[contracts.MethodGetSensors] = func(context.Context, jsontext.Value) (any, error) {
		<-release
		return map[string]bool{"done": true}, nil
	}
	slow, _ := command(t, contracts.MethodGetSensors, "", nil)
	first, again := request(slow), request(slow)
	first.Reply, again.Reply = "replies/first", "replies/again"
	var firstAcked, againAcked atomic.Bool
	first.Ack, again.Ack = func() { firstAcked.Store(true) }, func() { againAcked.Store(true) }
	r.d.Handle(first)
	waitFor(t, "the first delivery to run", func() bool { return len(r.d.running) == 1 })
	r.d.Handle(again) // joins the flight; its worker is free again
	waitFor(t, "the second delivery's worker to wait", func() bool { return r.d.waiting.Load() == 1 })
	other, _ := command(t, contracts.MethodGetDeviceState, "", nil)
	r.send(request(other)) // most likely to that worker
	close(release)
	waitFor(t, "both deliveries acknowledged", func() bool { return firstAcked.Load() && againAcked.Load() })
	got := map[string]int{}
	for _, e := range r.drain() {
		got[e.Topic]++
	}
	if got["replies/first"] != 1 || got["replies/again"] != 1 || got["backend/replies"] != 1 {
		t.Errorf("answers by topic %v; want one to each delivery's reply topic", got)
	}
}
