package config

import "time"

// Which uplinks the configuration runs, and the migration phases of the
// two together.

// UsesKafka reports whether the configuration chooses the Kafka uplink:
// uplink.kafka.brokers is set.
func (c *Config) UsesKafka() bool { return len(c.Uplink.Kafka.Brokers) > 0 }

// UsesMQTT reports whether the configuration chooses the MQTT uplink:
// uplink.mqtt.broker is set, or the embedded broker is enabled, or
// uplink.kafka.brokers is not set.
func (c *Config) UsesMQTT() bool {
	m := &c.Uplink.MQTT
	return !c.UsesKafka() || m.Broker != "" || m.EmbeddedBroker.Enabled
}

// UsesBoth reports whether both uplinks are configured: the migration
// phases (uplink.phase) choose what each carries.
func (c *Config) UsesBoth() bool { return c.UsesKafka() && c.UsesMQTT() }

// The migration phases (uplink.phase).
const (
	PhaseA = "A" // both paths: every record on MQTT and on Kafka
	PhaseB = "B" // Kafka first, MQTT when Kafka is out
	PhaseC = "C" // Kafka alone; the MQTT uplink does not run
)

// DefaultFailoverAfter is uplink.failoverAfter's default.
const DefaultFailoverAfter = 30 * time.Second

// The uplinks' names in the outbox (outbox.Config.Uplinks) and in the
// metrics.
const (
	UplinkMQTT  = "mqtt"
	UplinkKafka = "kafka"
)
