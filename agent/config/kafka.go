package config

import (
	"errors"
	"log/slog"

	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/internal/tlsfiles"
)

// EnvKafkaPassword overrides uplink.kafka.sasl.password.
const EnvKafkaPassword = "IOT_HUB_KAFKA_PASSWORD"

// validateKafka reports the first wrong key of uplink.kafka
// (kafka.Settings.Validate): on no line for a key left out, and saying,
// for a SASL password, that the environment can set it.
func (c *Config) validateKafka() error {
	err := c.Uplink.Kafka.Validate()
	if err == nil {
		return nil
	}
	e := c.ruleError("uplink.kafka", err)
	if e.Path == "uplink.kafka.sasl.password" {
		e.Msg += " (or set " + EnvKafkaPassword + ")"
	}
	return e
}

// KafkaConfig returns the Kafka uplink's configuration, logging to log,
// with its TLS configuration read from the CA, certificate and key
// files: an error names the key of the file that could not be read.
func (c *Config) KafkaConfig(log *slog.Logger) (kafka.Config, error) {
	cfg, err := c.Uplink.Kafka.Config()
	if err != nil {
		if e, ok := errors.AsType[*tlsfiles.Error](err); ok {
			err = e.Name("uplink.kafka.caFile", "uplink.kafka.certFile, keyFile")
		}
		return kafka.Config{}, err
	}
	cfg.DeviceID, cfg.Logger = c.DeviceID, log
	return cfg, nil
}
