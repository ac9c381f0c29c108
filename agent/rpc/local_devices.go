package rpc

import (
	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/sensors"
)

// embeddedBrokerResult is what getDeviceState says of the embedded
// broker: its clients, and what became of their messages on its
// integrate topics.
type embeddedBrokerResult struct {
	ClientsConnected int            `json:"clientsConnected"`
	Devices          int            `json:"devices"`
	Failing          []string       `json:"failing"`
	Messages         messagesResult `json:"messages"`
}

// messagesResult counts messages by broker.Outcome.
type messagesResult struct {
	Taken     uint64 `json:"taken"`
	Adapted   uint64 `json:"adapted"`
	Unadapted uint64 `json:"unadapted"`
	TooLarge  uint64 `json:"tooLarge"`
	OverRate  uint64 `json:"overRate"`
	OverTotal uint64 `json:"overTotal"`
	Failed    uint64 `json:"failed"`
}

// localDeviceResult is what getSensors says of a device on the embedded
// broker besides its health.
type localDeviceResult struct {
	Connected     bool           `json:"connected"`
	LastMessageAt string         `json:"lastMessageAt"`
	LastOutcome   string         `json:"lastOutcome"`
	Messages      messagesResult `json:"messages"`
}

func messagesOf(s broker.IntegrateStats) messagesResult {
	return messagesResult{
		Taken: s.Of(broker.Taken), Adapted: s.Of(broker.Adapted), Unadapted: s.Of(broker.Unadapted),
		TooLarge: s.Of(broker.TooLarge), OverRate: s.Of(broker.OverRate), OverTotal: s.Of(broker.OverTotal), Failed: s.Of(broker.Failed),
	}
}

// healthOf is a device's health: failing while its latest messages
// were not kept as they came.
func healthOf(c broker.ClientStats) sensors.Health {
	if c.ConsecutiveLeftOut > 0 {
		return sensors.HealthFailing
	}
	return sensors.HealthOK
}

func embeddedBrokerOf(s broker.Stats) *embeddedBrokerResult {
	r := &embeddedBrokerResult{ClientsConnected: s.Connected, Devices: len(s.Clients), Failing: []string{}, Messages: messagesOf(s.Integrate)}
	for _, c := range s.Clients {
		if healthOf(c) == sensors.HealthFailing {
			r.Failing = append(r.Failing, c.ID)
		}
	}
	return r
}

// localSensorOf is getSensors' entry of a device on the embedded broker,
// named by its client id; it has no readings (those adapted go out as
// telemetry, and are not kept).
func localSensorOf(c broker.ClientStats) sensorResult {
	r := sensorResult{Name: c.ID, Health: healthOf(c), Readings: []readingResult{}, ConsecutiveFailures: c.ConsecutiveLeftOut,
		LastError: c.LastProblem, LocalDevice: &localDeviceResult{Connected: c.Connected, LastMessageAt: stamp(c.LastAt),
			LastOutcome: c.LastOutcome.String(), Messages: messagesOf(c.Counts)}}
	if !c.LastProblemAt.IsZero() {
		r.LastErrorAt = stamp(c.LastProblemAt)
	}
	return r
}
