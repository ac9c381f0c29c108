package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/lograte"
)

// integrateTimeout bounds the wait of a device's message for its place
// in the outbox; it holds back that device's connection only.
const integrateTimeout = 5 * time.Second

// integrator queues the messages the embedded broker takes from the
// devices on the gateway's network as integration.mqtt.received events,
// in the telemetry lane: on the integration events topic over Kafka,
// on the device's events topic over MQTT.
func integrator(deviceID string, box *outbox.Store, log *slog.Logger) (func(broker.Message) error, error) {
	topics, err := contracts.DeviceTopics(deviceID)
	if err != nil {
		return nil, err
	}
	topic := topics.For(contracts.TypeIntegrationMQTTReceived)
	origin := contracts.DeviceOrigin(deviceID)
	lines := lograte.New(log, lograte.Config{})
	return func(m broker.Message) error {
		ev := contracts.NewIntegrationMQTTReceived(origin, m.Topic, m.Payload, int(m.QoS), m.ReceivedAt)
		b, err := contracts.Encode(ev)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), integrateTimeout)
			err = box.Append(ctx, record.Of(outbox.LaneTelemetry, topic, deviceID, record.HeadOf(ev.Header()), b))
			cancel()
		}
		if err != nil {
			lines.Warn("integrate", "agent: a device's message is not queued; the device is told so", "client", m.Client, "topic", m.Topic, "err", err)
		}
		return err
	}, nil
}
