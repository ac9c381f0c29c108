package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
	"github.com/iot-hub/agent/internal/lograte"
)

// integrateTimeout bounds the wait of a device's message for its place
// in the outbox; it holds back that device's connection only.
const integrateTimeout = 5 * time.Second

// integrator queues the messages the embedded broker takes from the
// devices on the gateway's network, in the telemetry lane: as
// integration.mqtt.received events (on the integration events topic
// over Kafka, on the gateway's events topic over MQTT); or, for a
// message on a legacyTelemetry filter, as the gateway's device.telemetry
// whose readings' sensor is the device's MQTT client id. A legacy
// message that does not decode is queued as an event instead, counted
// Unadapted and logged: nothing a device sends is dropped.
type integrator struct {
	deviceID string
	topics   contracts.MQTTTopics
	origin   contracts.Origin
	box      *coalescer
	lines    *lograte.Logger
}

// newIntegrator returns the integrator of the gateway deviceID.
func newIntegrator(deviceID string, box *coalescer, log *slog.Logger) (*integrator, error) {
	topics, err := contracts.DeviceTopics(deviceID)
	if err != nil {
		return nil, err
	}
	return &integrator{deviceID: deviceID, topics: topics, origin: contracts.DeviceOrigin(deviceID), box: box,
		lines: lograte.New(log, lograte.Config{})}, nil
}

// take is the embedded broker's OnMessage.
func (in *integrator) take(m broker.Message) (broker.Outcome, error) {
	var unadapted error
	if m.Legacy {
		tm, err := in.adapt(m)
		if err == nil {
			if err := in.queue(m, tm); err != nil {
				return broker.Failed, err
			}
			return broker.Adapted, nil
		}
		unadapted = err
		in.lines.Warn("unadapted", "agent: a device's legacy telemetry does not decode; it is queued as an integration.mqtt.received event",
			"client", m.Client, "topic", m.Topic, "err", err)
	}
	if err := in.queue(m, contracts.NewIntegrationMQTTReceived(in.origin, m.Topic, m.Payload, int(m.QoS), m.ReceivedAt)); err != nil {
		return broker.Failed, err
	}
	if unadapted != nil {
		return broker.Unadapted, unadapted
	}
	return broker.Taken, nil
}

// adapt decodes m, a plain telemetry object, into device.telemetry.
func (in *integrator) adapt(m broker.Message) (*contracts.DeviceTelemetry, error) {
	tm, ignored, err := legacy.DecodeTelemetry(m.Payload, in.origin, legacy.TelemetryOptions{DeviceID: in.deviceID, Sensor: m.Client, At: m.ReceivedAt})
	if err != nil {
		return nil, err
	}
	if len(ignored) > 0 {
		in.lines.Info("ignored", "agent: members of a device's legacy telemetry that are not numbers are left out",
			"client", m.Client, "topic", m.Topic, "members", ignored)
	}
	return tm, nil
}

// queue appends msg, made of the device's message m, to the outbox.
func (in *integrator) queue(m broker.Message, msg contracts.Message) error {
	b, err := contracts.Encode(msg)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), integrateTimeout)
		h := msg.Header()
		err = in.box.Append(ctx, record.Of(outbox.LaneTelemetry, in.topics.For(h.EventType), in.deviceID, record.HeadOf(h), b))
		cancel()
	}
	if err != nil {
		in.lines.Warn("integrate", "agent: a device's message is not queued; the device is told so", "client", m.Client, "topic", m.Topic, "err", err)
	}
	return err
}
