package rpc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/sensors"
)

// ownSensors are the gateway's sensors, by name, each ok.
type ownSensors []string

func (o ownSensors) Status(names ...string) ([]sensors.Status, error) {
	if len(names) == 0 {
		names = o
	}
	var out []sensors.Status
	for _, n := range names {
		found := false
		for _, m := range o {
			found = found || m == n
		}
		if !found {
			return nil, fmt.Errorf("sensors: %w %q", sensors.ErrUnknownSensor, n)
		}
		out = append(out, sensors.Status{Name: n, Health: sensors.HealthOK})
	}
	return out, nil
}

func (o ownSensors) ReadNow(_ context.Context, names ...string) ([]sensors.Status, error) {
	return o.Status(names...)
}

// localStats are an embedded broker's: meter-1 well, plug-2 flooding,
// and a device named as a gateway's sensor, sim.
func localStats() broker.Stats {
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	s := broker.Stats{Connected: 3, Clients: []broker.ClientStats{
		{ID: "plug-2", Connected: true, LastAt: at.Add(2 * time.Second), LastOutcome: broker.OverRate, ConsecutiveLeftOut: 4,
			LastProblem: "beyond ratePerClient", LastProblemAt: at.Add(2 * time.Second)},
		{ID: "meter-1", Connected: true, LastAt: at.Add(time.Second), LastOutcome: broker.Adapted},
		{ID: "sim", LastAt: at, LastOutcome: broker.Taken},
	}}
	s.Clients[0].Counts[broker.Taken], s.Clients[0].Counts[broker.OverRate] = 20, 4
	s.Clients[1].Counts[broker.Adapted] = 5
	s.Clients[2].Counts[broker.Taken] = 1
	s.Integrate[broker.Taken], s.Integrate[broker.Adapted], s.Integrate[broker.OverRate] = 21, 5, 4
	return s
}

// TestGetSensorsLocalDevices: getSensors lists the embedded broker's
// devices after the gateway's sensors, each with its health and counts;
// a name asked for is the gateway's sensor's first.
func TestGetSensorsLocalDevices(t *testing.T) {
	g := getSensors{sensors: ownSensors{"sim", "board"}, broker: localStats}
	for _, tc := range []struct {
		params string
		want   []string // name, health, and "local" for a device's
	}{
		{``, []string{"sim ok", "board ok", "plug-2 failing local", "meter-1 ok local", "sim ok local"}},
		{`{"sensors":["meter-1","board"]}`, []string{"board ok", "meter-1 ok local"}},
		{`{"sensors":["plug-2"],"fresh":true}`, []string{"plug-2 failing local"}},
		{`{"sensors":["sim"]}`, []string{"sim ok"}},
	} {
		res, err := g.run(context.Background(), jsontext.Value(tc.params))
		if err != nil {
			t.Fatalf("getSensors(%s) = %v", tc.params, err)
		}
		var got []string
		for _, s := range res.(sensorsResult).Sensors {
			e := fmt.Sprint(s.Name, " ", s.Health)
			if s.LocalDevice != nil {
				e += " local"
			}
			got = append(got, e)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("getSensors(%s) = %q; want %q", tc.params, got, tc.want)
		}
	}
	res, _ := g.run(context.Background(), jsontext.Value(`{"sensors":["plug-2"]}`))
	b, _ := json.Marshal(res)
	const want = `{"sensors":[{"name":"plug-2","health":"failing","readings":[],"consecutiveFailures":4,"lastError":"beyond ratePerClient","lastErrorAt":"2026-12-07T03:00:02.000Z",` +
		`"localDevice":{"connected":true,"lastMessageAt":"2026-12-07T03:00:02.000Z","lastOutcome":"over_rate",` +
		`"messages":{"taken":20,"adapted":0,"unadapted":0,"tooLarge":0,"overRate":4,"overTotal":0,"failed":0}}}]}`
	if string(b) != want {
		t.Errorf("getSensors(plug-2) = %s;\nwant %s", b, want)
	}
	if _, err := g.run(context.Background(), jsontext.Value(`{"sensors":["nope"]}`)); err == nil {
		t.Errorf(`getSensors({"sensors":["nope"]}) = nil; want an error`)
	}
	if _, err := (getSensors{broker: localStats}).run(context.Background(), jsontext.Value(`{"sensors":["nope"]}`)); err == nil {
		t.Errorf(`getSensors({"sensors":["nope"]}) without sensors = nil; want an error`)
	}
}

// TestDeviceStateEmbeddedBroker: getDeviceState sums the embedded
// broker's devices up.
func TestDeviceStateEmbeddedBroker(t *testing.T) {
	s := deviceState{deps: Deps{StateDir: t.TempDir(), Broker: localStats}, deviceID: "gw", now: time.Now}
	res, err := s.run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res.(deviceStateResult).EmbeddedBroker)
	const want = `{"clientsConnected":3,"devices":3,"failing":["plug-2"],"messages":{"taken":21,"adapted":5,"unadapted":0,"tooLarge":0,"overRate":4,"overTotal":0,"failed":0}}`
	if string(b) != want {
		t.Errorf("getDeviceState's embeddedBroker = %s; want %s", b, want)
	}
}
