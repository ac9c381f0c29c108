package mqtt_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/agent/uplink/status"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// The legacy topics of the device, by default.
var legacyTopics = mqtt.LegacyTopics{
	Commands:  "devices/" + device + "/rpc/request",
	Responses: "devices/" + device + "/rpc/response",
	Telemetry: "devices/" + device + "/telemetry",
	Status:    "devices/" + device + "/status",
}

const legacyWait = 30 * time.Second

// telemetryRecord is the outbox record of a device.telemetry event whose
// one reading, seq, is n: as the sampler queues it.
func telemetryRecord(t *testing.T, n float64) (outbox.Record, *contracts.DeviceTelemetry) {
	t.Helper()
	m := contracts.NewDeviceTelemetry(contracts.DeviceOrigin(device), contracts.DeviceTelemetryPayload{DeviceID: device,
		Readings: []contracts.Reading{{Sensor: "sim", Metric: "seq", Value: n, Unit: "1", At: time.Now().UTC().Truncate(time.Millisecond)}}})
	b, err := contracts.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return record.Of(outbox.LaneTelemetry, topics.Telemetry, device, record.HeadOf(m.Header()), b), m
}

// eventRecord is the outbox record of a certificate.installed event,
// which has no legacy format.
func eventRecord(t *testing.T) outbox.Record {
	t.Helper()
	m := contracts.NewCertificateInstalled(contracts.DeviceOrigin(device), contracts.NewCorrelationID(), contracts.CertificateInstalledPayload{
		DeviceID: device, SerialNumber: "0a1b", NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	b, err := contracts.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return record.Of(outbox.LaneControl, topics.Events, device, record.HeadOf(m.Header()), b)
}

// TestLegacyOutgoing publishes telemetry and an event without a legacy
// format through an uplink of each protocol, and checks what arrives on
// which topic, in which format, with the online status; then, that the
// clean stop's offline status arrives in the same formats; and that the
// outbox is drained (every publish acknowledged).
func TestLegacyOutgoing(t *testing.T) {
	for _, tc := range []struct {
		protocol     string
		v1, oldForms bool // telemetry and status in v1, in the legacy format
	}{
		{mqtt.ProtocolV1, true, false},
		{mqtt.ProtocolLegacy, false, true},
		{mqtt.ProtocolDual, true, true},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			b := mqtttest.Start(t, mqtttest.Options{})
			sub := b.Subscribe(t, "#", 1)
			r := startUplink(t, b, t.TempDir(), mqtt.Config{Settings: mqtt.Settings{Protocol: tc.protocol}})
			tel, m := telemetryRecord(t, 42)
			ev := eventRecord(t)
			if err := r.box.Append(context.Background(), tel, ev); err != nil {
				t.Fatal(err)
			}
			// Telemetry and online status, in each format, and the event.
			want := 1
			for _, on := range []bool{tc.v1, tc.oldForms} {
				if on {
					want += 2
				}
			}
			msgs := sub.WaitFor(t, want, legacyWait)
			waitUntil(t, "the outbox to drain", func() bool {
				st := r.box.Stats()
				return st.Telemetry.Depth == 0 && st.Control.Depth == 0 && st.InFlight == 0
			})
			byTopic := map[string][]mqtttest.Message{}
			for _, msg := range sub.Messages() {
				byTopic[msg.Topic] = append(byTopic[msg.Topic], msg)
			}
			if len(msgs) != want || len(byTopic) != want {
				t.Errorf("%d messages on %d topics; want %d, one a topic", len(sub.Messages()), len(byTopic), want)
			}

			// The event has no legacy format: v1, on its v1 topic, always.
			if got := byTopic[topics.Events]; len(got) != 1 || !bytes.Equal(got[0].Payload, ev.Payload) {
				t.Errorf("on %s: %v; want the event as queued", topics.Events, got)
			}
			if got := byTopic[topics.Telemetry]; tc.v1 != (len(got) == 1) {
				t.Errorf("on %s: %d messages; want v1 telemetry: %v", topics.Telemetry, len(got), tc.v1)
			} else if tc.v1 {
				checkV1Telemetry(t, got[0], tel)
			}
			if got := byTopic[legacyTopics.Telemetry]; tc.oldForms != (len(got) == 1) {
				t.Errorf("on %s: %d messages; want legacy telemetry: %v", legacyTopics.Telemetry, len(got), tc.oldForms)
			} else if tc.oldForms {
				checkLegacyTelemetry(t, got[0], m)
			}
			checkStatuses(t, byTopic, tc.v1, tc.oldForms, contracts.DeviceOnline, status.ReasonConnected)

			sub.Clear()
			r.stop()
			byTopic = map[string][]mqtttest.Message{}
			for _, msg := range sub.WaitFor(t, boolInt(tc.v1)+boolInt(tc.oldForms), legacyWait) {
				byTopic[msg.Topic] = append(byTopic[msg.Topic], msg)
			}
			checkStatuses(t, byTopic, tc.v1, tc.oldForms, contracts.DeviceOffline, status.ReasonStopped)
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkV1Telemetry checks msg is the record rec as it was queued, byte
// for byte, with the contracts' headers.
func checkV1Telemetry(t *testing.T, msg mqtttest.Message, rec outbox.Record) {
	t.Helper()
	var users []string
	for _, u := range msg.User {
		users = append(users, u.Key+"="+u.Value)
	}
	var want []string
	for _, h := range rec.Headers {
		want = append(want, h.Key+"="+string(h.Value))
	}
	if !bytes.Equal(msg.Payload, rec.Payload) || !slices.Equal(users, want) || msg.Retain {
		t.Errorf("v1 telemetry %s, user properties %q, retain %v; want %s, %q, not retained", msg.Payload, users, msg.Retain, rec.Payload, want)
	}
}

// checkLegacyTelemetry checks msg is the plain telemetry object of m.
func checkLegacyTelemetry(t *testing.T, msg mqtttest.Message, m *contracts.DeviceTelemetry) {
	t.Helper()
	got, ignored, err := legacy.DecodeTelemetry(msg.Payload, contracts.DeviceOrigin("backend"), legacy.TelemetryOptions{DeviceID: device})
	if err != nil || len(ignored) != 0 || len(got.Payload.Readings) != 1 || got.Payload.Readings[0].Value != m.Payload.Readings[0].Value ||
		got.Payload.Readings[0].Metric != "seq" || msg.Retain || len(msg.User) != 0 || msg.ContentType != "application/json" {
		t.Errorf("legacy telemetry %s (retain %v, user properties %v, content type %q): %+v, %v; want {\"seq\":%v}, not retained, no user property, JSON",
			msg.Payload, msg.Retain, msg.User, msg.ContentType, got, err, m.Payload.Readings[0].Value)
	}
}

// checkStatuses checks the device's status on the v1 and legacy status
// topics: one retained message of each format wanted, saying s for
// reason, and none of a format not wanted.
func checkStatuses(t *testing.T, byTopic map[string][]mqtttest.Message, v1, oldForm bool, s contracts.DeviceStatus, reason string) {
	t.Helper()
	if got := byTopic[topics.Status]; v1 != (len(got) == 1) {
		t.Errorf("%s on %s: %d messages; want v1: %v", s, topics.Status, len(got), v1)
	} else if v1 {
		m, err := contracts.Decode(got[0].Payload)
		if e, ok := m.(*contracts.DeviceStatusChanged); err != nil || !ok || e.Payload.Status != s || e.Payload.Reason != reason || !got[0].Retain {
			t.Errorf("v1 status %s (retain %v): %v; want %s %s, retained", got[0].Payload, got[0].Retain, err, s, reason)
		}
	}
	if got := byTopic[legacyTopics.Status]; oldForm != (len(got) == 1) {
		t.Errorf("%s on %s: %d messages; want legacy: %v", s, legacyTopics.Status, len(got), oldForm)
	} else if oldForm {
		e, err := legacy.DecodeStatusChanged(got[0].Payload, contracts.DeviceOrigin("backend"))
		if err != nil || e.Payload.DeviceID != device || e.Payload.Status != s || e.Payload.Reason != reason || !got[0].Retain {
			t.Errorf("legacy status %s (retain %v): %+v, %v; want %s %s, retained", got[0].Payload, got[0].Retain, e, err, s, reason)
		}
	}
}

// TestLegacyLastWill drops the connection of a legacy uplink and checks
// the broker publishes its Will: the legacy offline, on the legacy
// status topic.
func TestLegacyLastWill(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	rl := startRelay(t, b.Addr(), false)
	sub := b.Subscribe(t, legacyTopics.Status, 1)
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Settings: mqtt.Settings{Broker: "mqtt://" + rl.addr(), Protocol: mqtt.ProtocolLegacy}})
	defer r.stop()
	is := func(s contracts.DeviceStatus, reason string) func(m mqtttest.Message) bool {
		return func(m mqtttest.Message) bool {
			e, err := legacy.DecodeStatusChanged(m.Payload, contracts.DeviceOrigin("backend"))
			return err == nil && e.Payload.Status == s && e.Payload.Reason == reason
		}
	}
	awaitMessage(t, sub, "the legacy online", is(contracts.DeviceOnline, status.ReasonConnected))
	rl.drop()
	awaitMessage(t, sub, "the legacy Will", is(contracts.DeviceOffline, status.ReasonConnectionLost))
}

// awaitMessage waits until sub has received a message that is, and
// returns it.
func awaitMessage(t *testing.T, sub *mqtttest.Subscriber, what string, is func(mqtttest.Message) bool) mqtttest.Message {
	t.Helper()
	for n := 1; ; n++ {
		msgs := sub.WaitFor(t, n, legacyWait)
		if i := slices.IndexFunc(msgs, is); i >= 0 {
			return msgs[i]
		}
		n = len(msgs)
		if n > 10000 {
			t.Fatalf("no %s among %d messages", what, n)
		}
	}
}

// slowSensors are a sampler's sensors for getSensors: a fresh read
// blocks until its deadline; reads counts them.
type slowSensors struct {
	reads atomic.Int32
}

func (s *slowSensors) Status(...string) ([]sensors.Status, error) { return nil, nil }

func (s *slowSensors) ReadNow(ctx context.Context, _ ...string) ([]sensors.Status, error) {
	s.reads.Add(1)
	<-ctx.Done()
	return nil, ctx.Err()
}

// startDispatching runs an uplink of protocol to b whose commands go to
// a real RPC dispatcher with the sensors given, answering into the same
// outbox; the dispatcher's own timeout is long, so that only a command's
// deadline ends a method.
func startDispatching(t *testing.T, b *mqtttest.Broker, protocol string, sens rpc.Sensors) *outbox.Store {
	t.Helper()
	box := outboxtest.OpenAt(t, filepath.Join(t.TempDir(), "outbox.db"), outbox.Config{})
	d, err := rpc.New(rpc.Config{DeviceID: device, Settings: rpc.Settings{Timeout: time.Hour}}, box,
		rpc.Deps{Version: "test", StateDir: t.TempDir(), Started: time.Now(), Outbox: box.Stats, Sensors: sens})
	if err != nil {
		t.Fatal(err)
	}
	up, err := mqtt.New(mqtt.Config{Settings: mqtt.Settings{Broker: b.URL(), Protocol: protocol}, DeviceID: device}, box,
		func(_ context.Context, c mqtt.Command) { d.Handle(c.Command) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { up.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		d.Close()
		box.Close()
	})
	waitUntil(t, "the uplink to connect", func() bool { return up.State().Connected })
	return box
}

// answerOn waits for the first message on topic.
func answerOn(t *testing.T, sub *mqtttest.Subscriber, topic string) mqtttest.Message {
	t.Helper()
	return awaitMessage(t, sub, "a message on "+topic, func(m mqtttest.Message) bool { return m.Topic == topic })
}

// decodeLegacyAnswer decodes a legacy RPC response.
func decodeLegacyAnswer(t *testing.T, msg mqtttest.Message) *contracts.DeviceResponseRPC {
	t.Helper()
	cmd := contracts.NewDeviceCommandRPC(contracts.DeviceOrigin("backend"), contracts.DeviceCommandRPCPayload{DeviceID: device, Method: contracts.MethodGetSensors, RequestedBy: "test"}, 0)
	m, err := legacy.DecodeResponse(msg.Payload, contracts.DeviceOrigin(device), &cmd.Envelope)
	if err != nil {
		t.Fatalf("answer on %s: %s: %v; want a legacy response", msg.Topic, msg.Payload, err)
	}
	if msg.ContentType != "application/json" || len(msg.User) != 0 {
		t.Errorf("legacy answer's content type %q, user properties %v; want JSON, none", msg.ContentType, msg.User)
	}
	return m
}

// TestLegacyCommand sends legacy commands, with and without Correlation
// Data and Response Topic, and checks each is answered in the legacy
// format, on the Response Topic or else the legacy responses topic, with
// its Correlation Data; and that a v1 command is still answered in v1.
func TestLegacyCommand(t *testing.T) {
	for _, protocol := range []string{mqtt.ProtocolLegacy, mqtt.ProtocolDual} {
		t.Run(protocol, func(t *testing.T) {
			b := mqtttest.Start(t, mqtttest.Options{})
			sub := b.Subscribe(t, "#", 1)
			startDispatching(t, b, protocol, &slowSensors{})

			sub.Publish(t, legacyTopics.Commands, []byte(`{"method":"getDeviceState","deviceId":"`+device+`"}`), 1, false, nil)
			msg := answerOn(t, sub, legacyTopics.Responses)
			m := decodeLegacyAnswer(t, msg)
			if m.Status != contracts.StatusSuccess || m.Payload.Method != "getDeviceState" || m.Payload.DeviceID != device || len(m.Payload.Result) == 0 || msg.CorrelationData != nil {
				t.Errorf("answer %s, correlation data %q; want getDeviceState's success, with a result, no correlation data", msg.Payload, msg.CorrelationData)
			}

			sub.Publish(t, legacyTopics.Commands, []byte(`{"method":"getDeviceState","deviceId":"`+device+`","timeout":2000}`), 1, false,
				&mqtttest.Properties{ResponseTopic: "backend/replies", CorrelationData: []byte("request-17")})
			msg = answerOn(t, sub, "backend/replies")
			if m := decodeLegacyAnswer(t, msg); m.Status != contracts.StatusSuccess || string(msg.CorrelationData) != "request-17" {
				t.Errorf("answer %s, correlation data %q; want a success, request-17", msg.Payload, msg.CorrelationData)
			}

			// The v1 commands topic is still read, and answered in v1: the
			// certificate rotation's messages have no legacy format.
			v1 := contracts.NewDeviceCommandRPC(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "test"}},
				contracts.DeviceCommandRPCPayload{DeviceID: device, Method: contracts.MethodGetDeviceState, RequestedBy: "test"}, time.Minute)
			payload, err := contracts.Encode(v1)
			if err != nil {
				t.Fatal(err)
			}
			sub.Publish(t, topics.Commands, payload, 1, false, nil)
			msg = answerOn(t, sub, topics.Responses)
			if m, err := contracts.Decode(msg.Payload); err != nil || m.Header().CorrelationID != v1.CorrelationID {
				t.Errorf("answer to a v1 command %s: %v; want a v1 answer to %s", msg.Payload, err, v1.CorrelationID)
			}
		})
	}
}

// TestLegacyCommandTimeout sends a legacy getSensors that reads the
// sensors, which never answer, with a timeout of 1000 ms: the dispatcher's
// own timeout being an hour, only the legacy timeout can end it, with
// TIMEOUT, in the legacy format.
func TestLegacyCommandTimeout(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	sub := b.Subscribe(t, legacyTopics.Responses, 1)
	startDispatching(t, b, mqtt.ProtocolLegacy, &slowSensors{})
	sub.Publish(t, legacyTopics.Commands, []byte(`{"method":"getSensors","deviceId":"`+device+`","timeout":1000,"params":{"fresh":true}}`), 1, false, nil)
	m := decodeLegacyAnswer(t, answerOn(t, sub, legacyTopics.Responses))
	if m.Status != contracts.StatusError || m.Error.Code != contracts.CodeTimeout || !strings.Contains(m.Error.Message, "within 1s") {
		t.Errorf("answer %+v, error %+v; want TIMEOUT within 1s", m.Payload, m.Error)
	}
}

// TestDualSameCommandRunsOnce sends one command in both formats, the
// legacy one's Correlation Data the v1 one's correlationId: the method
// runs once, and each delivery is answered in its own format, on its own
// Response Topic.
func TestDualSameCommandRunsOnce(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	sub := b.Subscribe(t, "backend/+", 1)
	sens := &slowSensors{}
	startDispatching(t, b, mqtt.ProtocolDual, sens)

	v1 := contracts.NewDeviceCommandRPC(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "test"}},
		contracts.DeviceCommandRPCPayload{DeviceID: device, Method: contracts.MethodGetSensors, Params: []byte(`{"fresh":true}`), RequestedBy: "test"}, 2*time.Second)
	payload, err := contracts.Encode(v1)
	if err != nil {
		t.Fatal(err)
	}
	id := []byte(v1.CorrelationID)
	sub.Publish(t, topics.Commands, payload, 1, false, &mqtttest.Properties{ResponseTopic: "backend/v1", CorrelationData: id})
	sub.Publish(t, legacyTopics.Commands, []byte(`{"method":"getSensors","deviceId":"`+device+`","timeout":2000,"params":{"fresh":true}}`), 1, false,
		&mqtttest.Properties{ResponseTopic: "backend/legacy", CorrelationData: id})

	v1Answer := answerOn(t, sub, "backend/v1")
	m, err := contracts.Decode(v1Answer.Payload)
	if a, ok := m.(*contracts.DeviceResponseRPC); err != nil || !ok || a.CorrelationID != v1.CorrelationID || a.Error == nil || a.Error.Code != contracts.CodeTimeout {
		t.Errorf("v1 answer %s: %v; want a v1 TIMEOUT with correlationId %s", v1Answer.Payload, err, v1.CorrelationID)
	}
	legacyAnswer := answerOn(t, sub, "backend/legacy")
	if a := decodeLegacyAnswer(t, legacyAnswer); a.Error == nil || a.Error.Code != contracts.CodeTimeout || !bytes.Equal(legacyAnswer.CorrelationData, id) {
		t.Errorf("legacy answer %s, correlation data %q; want a legacy TIMEOUT with %s", legacyAnswer.Payload, legacyAnswer.CorrelationData, id)
	}
	if n := sens.reads.Load(); n != 1 {
		t.Errorf("the sensors were read %d times; want once: the command runs once", n)
	}
	if n := len(sub.Messages()); n != 2 {
		t.Errorf("%d answers; want 2", n)
	}
}

// TestLegacyBadCommands sends legacy commands that cannot run: each is
// a dead letter (v1, on the dlq topic, holding the command as sent), and
// those that name a method are answered with an error in the legacy
// format too.
func TestLegacyBadCommands(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	sub := b.Subscribe(t, "#", 1)
	answers := b.Subscribe(t, legacyTopics.Responses, 1)
	startDispatching(t, b, mqtt.ProtocolLegacy, &slowSensors{})
	for _, tc := range []struct {
		name, payload, reason, code string // code "": no answer
	}{
		{"not JSON", `getSensors please`, contracts.DLQMalformed, ""},
		{"not an object", `["getSensors"]`, contracts.DLQMalformed, ""},
		{"no method", `{"deviceId":"` + device + `"}`, contracts.DLQUnanswerable, ""},
		{"timeout out of range", `{"method":"getSensors","deviceId":"` + device + `","timeout":50}`, contracts.DLQInvalid, contracts.CodeInvalidCommand},
		{"unknown method", `{"method":"reboot","deviceId":"` + device + `"}`, contracts.DLQInvalid, contracts.CodeMethodNotFound},
		{"params not an object", `{"method":"getSensors","deviceId":"` + device + `","params":[1]}`, contracts.DLQInvalid, contracts.CodeInvalidCommand},
		{"another device", `{"method":"getSensors","deviceId":"gw-other"}`, contracts.DLQWrongDevice, contracts.CodeWrongDevice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub.Clear()
			cd := []byte(tc.name)
			sub.Publish(t, legacyTopics.Commands, []byte(tc.payload), 1, false, &mqtttest.Properties{CorrelationData: cd})
			letter := answerOn(t, sub, topics.DLQ)
			m, err := contracts.Decode(letter.Payload)
			dlq, ok := m.(*contracts.SystemDLQ)
			if err != nil || !ok || dlq.Payload.Reason != tc.reason || dlq.Payload.OriginalTopic != legacyTopics.Commands {
				t.Fatalf("dead letter %s: %v; want reason %s from %s", letter.Payload, err, tc.reason, legacyTopics.Commands)
			}
			if tc.reason != contracts.DLQWrongDevice { // refused by the uplink: the command as sent
				if raw, _ := contracts.Bytes(dlq.Payload.Raw, dlq.Payload.RawEncoding); string(raw) != tc.payload {
					t.Errorf("dead letter raw %q; want %q", raw, tc.payload)
				}
			}
			if tc.code == "" {
				return
			}
			msg := answerOn(t, sub, legacyTopics.Responses)
			a := decodeLegacyAnswer(t, msg)
			if a.Error == nil || a.Error.Code != tc.code || !bytes.Equal(msg.CorrelationData, cd) {
				t.Errorf("answer %s, correlation data %q; want a legacy %s, %q", msg.Payload, msg.CorrelationData, tc.code, cd)
			}
		})
	}
	// Nothing else was answered: the answers, in order on their topic,
	// are those of the commands that name a method.
	if n := len(answers.WaitFor(t, 4, legacyWait)); n != 4 {
		t.Errorf("%d answers on %s; want 4", n, legacyTopics.Responses)
	}
}

// TestDualRefusedLegacyFormQuarantines: with the legacy telemetry topic
// denied, each telemetry record's v1 publish is acknowledged and its
// legacy one refused for good: the record is quarantined, not acked on
// its first PUBACK.
func TestDualRefusedLegacyFormQuarantines(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{ACL: "topic readwrite #\ntopic deny " + legacyTopics.Telemetry})
	sub := b.Subscribe(t, topics.Telemetry, 1)
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Settings: mqtt.Settings{Protocol: mqtt.ProtocolDual}})
	tel, _ := telemetryRecord(t, 7)
	if err := r.box.Append(context.Background(), tel); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the record to be quarantined", func() bool { return r.box.Stats().Quarantined == 1 })
	if msgs := sub.WaitFor(t, 1, legacyWait); !bytes.Equal(msgs[0].Payload, tel.Payload) {
		t.Errorf("v1 telemetry %s; want the record's", msgs[0].Payload)
	}
	if st := r.box.Stats(); st.Telemetry.Depth != 0 || st.InFlight != 0 {
		t.Errorf("outbox %+v; want nothing left, nothing in flight", st)
	}
}

// TestDualAcksOnlyWhatArrivedInBothForms stops a dual uplink in the
// middle of a stream, with a window of 3 (odd: an entry's two publishes
// straddle it), and checks that every record the outbox let go arrived
// in both formats, that it kept the others, and that a restart sends
// those: nothing is lost, and nothing is acked on half its publishes.
func TestDualAcksOnlyWhatArrivedInBothForms(t *testing.T) {
	const n = 400
	b := mqtttest.Start(t, mqtttest.Options{})
	sub := b.Subscribe(t, "+/+/telemetry", 1) // devices/gw-test/telemetry
	v1Sub := b.Subscribe(t, topics.Telemetry, 1)
	dir := t.TempDir()
	cfg := mqtt.Config{Settings: mqtt.Settings{Protocol: mqtt.ProtocolDual, Window: 3}}
	r := startUplink(t, b, dir, cfg)
	recs := make([]outbox.Record, n)
	for i := range recs {
		recs[i], _ = telemetryRecord(t, float64(i))
	}
	if err := r.box.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	sub.WaitFor(t, n/4, legacyWait)
	r.stop()

	// What the outbox kept, by seq.
	box := outboxtest.OpenAt(t, filepath.Join(dir, "outbox.db"), outbox.Config{Settings: outbox.Settings{MaxBytes: 256 << 20, LiveShare: -1}})
	kept := map[float64]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	for {
		es, err := box.Next(ctx, 100)
		if err != nil {
			break
		}
		for _, e := range es {
			kept[seqOf(t, e.Payload)] = true // not settled: the next open hands it out again
		}
	}
	cancel()
	box.Close()
	if len(kept) == 0 || len(kept) == n {
		t.Fatalf("the outbox kept %d of %d records; want the stop in the middle of the stream", len(kept), n)
	}
	// Every record let go arrived in both formats.
	v1Seen, oldSeen := map[float64]bool{}, map[float64]bool{}
	count := func() int {
		for _, m := range v1Sub.Messages() {
			v1Seen[seqOf(t, m.Payload)] = true
		}
		for _, m := range sub.Messages() {
			if m.Topic == legacyTopics.Telemetry {
				got, _, err := legacy.DecodeTelemetry(m.Payload, contracts.DeviceOrigin("backend"), legacy.TelemetryOptions{DeviceID: device})
				if err != nil {
					t.Fatalf("legacy telemetry %s: %v", m.Payload, err)
				}
				oldSeen[got.Payload.Readings[0].Value] = true
			}
		}
		missing := 0
		for i := range n {
			if !kept[float64(i)] && (!v1Seen[float64(i)] || !oldSeen[float64(i)]) {
				missing++
			}
		}
		return missing
	}
	waitUntil(t, "every record acked to arrive in both formats", func() bool { return count() == 0 })

	// A restart sends the rest, in both formats.
	r = startUplink(t, b, dir, cfg)
	waitUntil(t, "every record to arrive in both formats", func() bool {
		count()
		return len(v1Seen) == n && len(oldSeen) == n
	})
	waitUntil(t, "the outbox to drain", func() bool {
		st := r.box.Stats()
		return st.Telemetry.Depth == 0 && st.InFlight == 0 && st.Quarantined == 0
	})
}

// seqOf returns the value of the one reading of a v1 telemetry event.
func seqOf(t *testing.T, payload []byte) float64 {
	t.Helper()
	m, err := contracts.Decode(payload)
	tel, ok := m.(*contracts.DeviceTelemetry)
	if err != nil || !ok {
		t.Fatalf("v1 telemetry %s: %v", payload, err)
	}
	return tel.Payload.Readings[0].Value
}
