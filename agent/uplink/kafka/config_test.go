package kafka_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/uplink/kafka"
)

func TestValidate(t *testing.T) {
	ok := kafka.Config{Brokers: []string{"kafka-1:9092", "kafka-2"}, DeviceID: device}
	for _, tc := range []struct {
		name   string
		change func(*kafka.Config)
		want   string // in the error; "" for valid
	}{
		{"defaults", func(*kafka.Config) {}, ""},
		{"sasl-scram", func(c *kafka.Config) {
			c.SASL = kafka.SASL{Mechanism: kafka.MechanismSCRAMSHA512, User: "u", Password: "p"}
		}, ""},
		{"no-brokers", func(c *kafka.Config) { c.Brokers = nil }, "Brokers is required"},
		{"empty-broker", func(c *kafka.Config) { c.Brokers = []string{""} }, "Brokers[0]"},
		{"broker-url", func(c *kafka.Config) { c.Brokers = []string{"kafka://host:9092"} }, "Brokers[0]"},
		{"no-device", func(c *kafka.Config) { c.DeviceID = "" }, "DeviceID"},
		{"device-with-slash", func(c *kafka.Config) { c.DeviceID = "a/b" }, "DeviceID"},
		{"unknown-mechanism", func(c *kafka.Config) { c.SASL.Mechanism = "GSSAPI" }, "SASL.Mechanism"},
		{"mechanism-without-user", func(c *kafka.Config) { c.SASL.Mechanism = kafka.MechanismPlain }, "SASL.User"},
		{"user-without-mechanism", func(c *kafka.Config) { c.SASL.User = "u" }, "without SASL.Mechanism"},
		{"bad-commands-topic", func(c *kafka.Config) { c.Topics.Commands = "device commands" }, "Topics.Commands"},
		{"renamed-topics", func(c *kafka.Config) { c.Topics = kafka.Topics{Commands: "acme.cmd", DLQ: "acme.dlq"} }, ""},
		{"duplicate-topic", func(c *kafka.Config) { c.Topics.Certificates = "device.events" }, `Topics.Certificates "device.events" is also Topics.Events`},
		{"long-commands-topic", func(c *kafka.Config) { c.Topics.Commands = strings.Repeat("c", 249) }, "Topics.Commands of 249 bytes is too long"},
		{"long-certificates-topic", func(c *kafka.Config) { c.Topics.Certificates = strings.Repeat("c", 249) }, "Topics.Certificates of 249 bytes is too long"},
		{"bad-dlq-topic", func(c *kafka.Config) { c.Topics.DLQ = ".." }, "Topics.DLQ"},
		{"every-compression", func(c *kafka.Config) { c.Compression = kafka.CompressionZstd }, ""},
		{"unknown-compression", func(c *kafka.Config) { c.Compression = "brotli" },
			`Compression "brotli" is not one of none, gzip, snappy, lz4, zstd`},
		{"window-negative", func(c *kafka.Config) { c.Window = -1 }, "Window -1"},
		{"window-too-large", func(c *kafka.Config) { c.Window = kafka.MaxWindow + 1 }, "Window"},
		{"connect-timeout-tiny", func(c *kafka.Config) { c.ConnectTimeout = time.Millisecond }, "ConnectTimeout"},
		{"connect-timeout-huge", func(c *kafka.Config) { c.ConnectTimeout = time.Hour }, "ConnectTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.change(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, kafka.ErrInvalidConfig)):
				t.Errorf("Validate() = %v; want ErrInvalidConfig naming %q", err, tc.want)
			}
			if _, nerr := kafka.New(cfg, nil, nil); (nerr == nil) != (err == nil) {
				t.Errorf("New() = %v; want the error of Validate, %v", nerr, err)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	d := kafka.DefaultConfig()
	if d.Window != 4096 || d.ConnectTimeout != 10*time.Second || d.Topics != kafka.DefaultTopics() || d.Topics.Commands != "device.commands" || d.Compression != kafka.CompressionGzip || d.Logger == nil {
		t.Errorf("DefaultConfig() = %+v; want Window 4096, ConnectTimeout 10s, the contracts' topics, gzip, a logger", d)
	}
}

func TestValidateCommandsModes(t *testing.T) {
	ok := kafka.Config{Brokers: []string{"kafka-1:9092"}, DeviceID: device}
	for _, tc := range []struct {
		partitioner kafka.Partitioner
		mode        kafka.CommandsPartitions
		want        string // in the error; "" for valid
	}{
		{"", "", ""},
		{kafka.PartitionerLegacy, kafka.CommandsAll, ""},
		{kafka.PartitionerMurmur2, kafka.CommandsOwn, ""},
		{"murmur2_random", "", `Partitioner "murmur2_random" is not murmur2 or legacy`},
		{"", "mine", `CommandsPartitions "mine" is not own or all`},
	} {
		cfg := ok
		cfg.Partitioner, cfg.CommandsPartitions = tc.partitioner, tc.mode
		err := cfg.Validate()
		if (tc.want == "") != (err == nil) || err != nil && (!strings.Contains(err.Error(), tc.want) || !errors.Is(err, kafka.ErrInvalidConfig)) {
			t.Errorf("Validate() with %q, %q = %v; want an ErrInvalidConfig naming %q", tc.partitioner, tc.mode, err, tc.want)
		}
	}
}
