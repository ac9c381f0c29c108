package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/config"
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
		k.CommandsTopic != "device.commands" || k.ConnectTimeout != 10*time.Second {
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
		{"uplink: {mqtt: {broker: \"mqtt://b:1883\"}, kafka: {brokers: [\"k:9092\"]}}",
			"uplink.kafka.brokers: set uplink.mqtt.broker or uplink.kafka.brokers, not both"},
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
		{"uplink: {kafka: {brokers: [\"k:9092\"]}, mqtt: {embeddedBroker: {enabled: true}}}",
			"uplink.kafka.brokers: set uplink.mqtt.broker or uplink.kafka.brokers, not both"},
	}
	for _, tt := range tests {
		_, err := config.Parse([]byte("deviceId: gw\n"+tt.yaml+"\n"), nil)
		if !errors.Is(err, config.ErrInvalid) || !strings.HasSuffix(err.Error(), tt.want) {
			t.Errorf("Parse(%s) = %v;\nwant ...%s", tt.yaml, err, tt.want)
		}
	}
}
