package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/uplink/kafka"
)

func TestParseKafka(t *testing.T) {
	env := map[string]string{config.EnvKafkaPassword: "from-env"}
	c, err := config.Parse([]byte(`
deviceId: gw-7
uplink:
  kafka:
    brokers: [kafka-1:9093, "kafka-2:9093"]
    tls: true
    caFile: /etc/iot-hub-agent/kafka-ca.pem
    sasl: {mechanism: SCRAM-SHA-512, username: gw-7, password: in-file}
`), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	k := c.Uplink.Kafka
	if !c.UsesKafka() || len(k.Brokers) != 2 || !k.TLS || k.SASL.Password != "from-env" ||
		k.Topics != (kafka.TopicNames{Commands: "device.commands", Responses: "device.responses", Events: "device.events", Telemetry: "device.telemetry", Certificates: "certificate.events", Users: "user.events", Integrations: "integration.events", DLQ: "dlq"}) || k.Compression != "gzip" || k.ConnectTimeout != 10*time.Second {
		t.Errorf("uplink.kafka = %+v", k)
	}
	out, err := c.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "from-env") || !strings.Contains(string(out), `password: "***"`) {
		t.Errorf("check-config output does not mask the SASL password:\n%s", out)
	}
}

func TestParseKafkaErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"uplink: {kafka: {brokers: [\"k:9092\", nope]}}", `uplink.kafka.brokers[1]: "nope" is not host:port`},
		{"uplink: {kafka: {brokers: [\"k:9092\"], caFile: /ca.pem}}",
			"uplink.kafka.tls: false, but caFile, certFile or keyFile is set: set tls: true"},
		{"uplink: {kafka: {brokers: [\"k:9092\"], tls: true, certFile: /c.pem}}", "uplink.kafka.certFile: certFile and keyFile go together"},
		{"uplink: {kafka: {brokers: [\"k:9092\"], sasl: {mechanism: GSSAPI}}}",
			`uplink.kafka.sasl.mechanism: "GSSAPI": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`},
		{"uplink: {kafka: {brokers: [\"k:9092\"], sasl: {mechanism: SCRAM-SHA-256, password: p}}}",
			"uplink.kafka.sasl.username: required with mechanism SCRAM-SHA-256"},
		{"uplink: {kafka: {brokers: [\"k:9092\"], sasl: {mechanism: PLAIN, username: u, password: p}}}",
			"uplink.kafka.sasl.mechanism: PLAIN sends the password as it is: it needs tls: true"},
		{"uplink: {kafka: {brokers: [\"k:9092\"], compression: brotli}}",
			`uplink.kafka.compression: "brotli": want none, gzip, snappy, lz4, zstd`},
		{"uplink: {kafka: {brokers: [\"k:9092\"], topics: {responses: \"\"}}}",
			"uplink.kafka.topics.responses: empty: a topic needs a name"},
		{"uplink: {kafka: {brokers: [\"k:9092\"], topics: {dlq: \"dead letters\"}}}",
			`uplink.kafka.topics.dlq: "dead letters" holds ' ': a Kafka topic name holds only letters, digits, '.', '_' and '-'`},
		{"uplink: {kafka: {brokers: [\"k:9092\"], topics: {events: acme.events, certificates: acme.events}}}",
			`uplink.kafka.topics.certificates: "acme.events" is also the name of uplink.kafka.topics.events: each topic needs its own`},
		{"uplink: {kafka: {brokers: [\"k:9092\"], topics: {telemetry: device.commands}}}",
			`uplink.kafka.topics.telemetry: "device.commands" is also the name of uplink.kafka.topics.commands: each topic needs its own`},
		{"uplink: {kafka: {brokers: [\"k:9092\"], commandsTopic: old.commands, topics: {commands: new.commands}}}",
			"uplink.kafka.commandsTopic: set topics.commands only: commandsTopic is its old name"},
		{"uplink: {mqtt: {broker: \"mqtt://b:1883\"}, kafka: {brokers: [\"k:9092\"]}, phase: D}",
			`uplink.phase: "D": want A (both paths), B (Kafka, MQTT when Kafka is out) or C (Kafka alone)`},
		{"uplink: {kafka: {brokers: [\"k:9092\"]}, phase: C}",
			`uplink.phase: "C", but only one uplink is configured: the phases are for MQTT and Kafka together (set uplink.mqtt.broker and uplink.kafka.brokers), or drop it`},
		{"uplink: {mqtt: {broker: \"mqtt://b:1883\", window: 0}, kafka: {brokers: [\"k:9092\"]}}",
			"uplink.mqtt.window: 0 is outside 1..65535"},
		{"uplink: {kafka: {brokers: [\"k:9092\"], partitioner: murmur2_random}}",
			`uplink.kafka.partitioner: "murmur2_random": want murmur2 or legacy`},
		{"uplink: {kafka: {brokers: [\"k:9092\"], commandsPartitions: every}}",
			`uplink.kafka.commandsPartitions: "every": want own or all`},
	}
	for _, tt := range tests {
		_, err := config.Parse([]byte("deviceId: gw\n"+tt.yaml+"\n"), nil)
		if !errors.Is(err, config.ErrInvalid) || !strings.HasSuffix(err.Error(), tt.want) {
			t.Errorf("Parse(%s) = %v;\nwant ...%s", tt.yaml, err, tt.want)
		}
	}
}

func TestParseKafkaTopicsAndCompression(t *testing.T) {
	c, err := config.Parse([]byte(`
deviceId: gw-7
uplink:
  kafka:
    brokers: ["kafka-1:9092"]
    compression: zstd
    topics:
      commands: acme.commands
      telemetry: acme.telemetry
      dlq: ~
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.KafkaConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := kafka.DefaultTopics()
	want.Commands, want.Telemetry = "acme.commands", "acme.telemetry"
	if k.Topics != want || k.Compression != kafka.CompressionZstd {
		t.Errorf("KafkaConfig() topics %+v, compression %q; want %+v, zstd", k.Topics, k.Compression, want)
	}
	if err := k.Validate(); err != nil {
		t.Errorf("KafkaConfig().Validate() = %v", err)
	}
}

// TestParseKafkaCommandsTopicAlias: the old key still names the commands
// topic, and check-config shows it under its new name.
func TestParseKafkaCommandsTopicAlias(t *testing.T) {
	c, err := config.Parse([]byte("deviceId: gw\nuplink: {kafka: {brokers: [\"k:9092\"], commandsTopic: old.commands}}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.KafkaConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if k.Topics.Commands != "old.commands" {
		t.Errorf("Topics.Commands = %q; want old.commands", k.Topics.Commands)
	}
	out, err := c.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "commandsTopic") || !strings.Contains(string(out), "commands: old.commands") {
		t.Errorf("check-config output:\n%s\nwant topics.commands: old.commands and no commandsTopic", out)
	}
}

// TestKafkaCommandsKeys: partitioner and commandsPartitions default to
// murmur2 and own, and reach the uplink's configuration.
func TestKafkaCommandsKeys(t *testing.T) {
	for _, tc := range []struct {
		yaml              string
		partitioner, mode string
	}{
		{"", string(kafka.PartitionerMurmur2), string(kafka.CommandsOwn)},
		{"partitioner: legacy, commandsPartitions: all", string(kafka.PartitionerLegacy), string(kafka.CommandsAll)},
	} {
		c, err := config.Parse([]byte("deviceId: gw-7\nuplink: {kafka: {brokers: [\"k:9092\"], "+tc.yaml+"}}\n"), nil)
		if err != nil {
			t.Fatalf("Parse(%s) = %v", tc.yaml, err)
		}
		kc, err := c.KafkaConfig(nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(kc.Partitioner) != tc.partitioner || string(kc.CommandsPartitions) != tc.mode {
			t.Errorf("Parse(%s): kafka.Config Partitioner %q, CommandsPartitions %q; want %q, %q",
				tc.yaml, kc.Partitioner, kc.CommandsPartitions, tc.partitioner, tc.mode)
		}
	}
}

// Both uplinks together: the phase defaults to A, failoverAfter to 30s,
// and each uplink keeps its keys' defaults; the embedded broker can be
// the MQTT uplink's beside Kafka.
func TestParseBothUplinks(t *testing.T) {
	c, err := config.Parse([]byte("deviceId: gw\nuplink: {mqtt: {embeddedBroker: {enabled: true}}, kafka: {brokers: [\"k:9092\"]}}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.UsesBoth() || c.Uplink.Phase != config.PhaseA || c.Uplink.FailoverAfter != config.DefaultFailoverAfter ||
		c.Uplink.MQTT.Window == 0 || c.Uplink.Kafka.Compression == "" {
		t.Errorf("uplink = %+v; want both, phase A, failoverAfter 30s, both uplinks' defaults", c.Uplink)
	}
	c, err = config.Parse([]byte("deviceId: gw\nuplink: {mqtt: {broker: \"mqtt://b:1883\"}, kafka: {brokers: [\"k:9092\"]}, phase: C}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.UsesBoth() || c.Uplink.Phase != config.PhaseC {
		t.Errorf("phase C: UsesBoth %v, phase %q; want both configured, phase C", c.UsesBoth(), c.Uplink.Phase)
	}
}
