package config

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/internal/certpool"
)

// Kafka configures the Kafka uplink, which produces the outbox straight
// to the platform's topics and consumes the device's commands from
// device.commands. Setting Brokers chooses it over MQTT.
type Kafka struct {
	// Brokers are the seed brokers, host:port; setting them chooses the
	// Kafka uplink.
	Brokers []string `yaml:"brokers,omitempty"`
	// TLS connects with TLS. Default false; CAFile, CertFile or KeyFile
	// need it.
	TLS bool `yaml:"tls,omitempty"`
	// CAFile is a PEM file of the CAs the brokers' certificates must chain
	// to; empty: the system's.
	CAFile string `yaml:"caFile,omitempty"`
	// CertFile and KeyFile are the client certificate and its key, PEM,
	// given together.
	CertFile string `yaml:"certFile,omitempty"`
	// KeyFile: see CertFile.
	KeyFile string `yaml:"keyFile,omitempty"`
	// SASL authenticates the client.
	SASL SASL `yaml:"sasl,omitempty"`
	// CommandsTopic is the topic of the commands. Default device.commands.
	CommandsTopic string `yaml:"commandsTopic,omitempty"`
	// ConnectTimeout bounds a connection attempt, and how long stopping
	// waits for the records in flight. Default 10s; 1s to 5m.
	ConnectTimeout time.Duration `yaml:"connectTimeout,omitempty" limit:"1s..5m"`
}

// SASL is the Kafka uplink's authentication.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty for none.
	Mechanism string `yaml:"mechanism,omitempty"`
	// Username is required with a mechanism.
	Username string `yaml:"username,omitempty"`
	// Password is required with a mechanism. IOT_HUB_KAFKA_PASSWORD
	// overrides it, which keeps it out of the file. Printed as "***".
	Password string `yaml:"password,omitempty"`
}

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Defaults of the Kafka uplink.
const (
	DefaultKafkaCommandsTopic  = "device.commands"
	DefaultKafkaConnectTimeout = 10 * time.Second
)

// EnvKafkaPassword overrides uplink.kafka.sasl.password.
const EnvKafkaPassword = "IOT_HUB_KAFKA_PASSWORD"

// UsesKafka reports whether the configuration chooses the Kafka uplink.
func (c *Config) UsesKafka() bool { return len(c.Uplink.Kafka.Brokers) > 0 }

// applyKafkaDefaults fills in the Kafka uplink's defaults when it is
// chosen.
func (c *Config) applyKafkaDefaults() {
	if !c.UsesKafka() {
		return
	}
	k := &c.Uplink.Kafka
	setDefault(&k.CommandsTopic, DefaultKafkaCommandsTopic)
	setDefault(&k.ConnectTimeout, DefaultKafkaConnectTimeout)
}

// validateKafka reports the first wrong key of uplink.kafka.
func (c *Config) validateKafka(bad func(path, format string, args ...any) error) error {
	k := &c.Uplink.Kafka
	for i, b := range k.Brokers {
		host, port, err := net.SplitHostPort(b)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return bad("uplink.kafka.brokers["+strconv.Itoa(i)+"]", "%q is not host:port", b)
		}
	}
	s := k.SASL
	switch {
	case c.Uplink.MQTT.EmbeddedBroker.Enabled:
		return bad("uplink.mqtt.embeddedBroker.enabled", "the embedded MQTT broker is of no use to the Kafka uplink (uplink.kafka.brokers is set)")
	case (k.CAFile != "" || k.CertFile != "" || k.KeyFile != "") && !k.TLS:
		return bad("uplink.kafka.tls", "false, but caFile, certFile or keyFile is set: set tls: true")
	case (k.CertFile == "") != (k.KeyFile == ""):
		return bad("uplink.kafka.certFile", "certFile and keyFile go together")
	case !oneOf(s.Mechanism, "", SASLPlain, SASLScramSHA256, SASLScramSHA512):
		return bad("uplink.kafka.sasl.mechanism", "%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
	case s.Mechanism != "" && s.Username == "":
		return bad("uplink.kafka.sasl.username", "required with mechanism %s", s.Mechanism)
	case s.Mechanism != "" && s.Password == "":
		return bad("uplink.kafka.sasl.password", "required with mechanism %s (or set %s)", s.Mechanism, EnvKafkaPassword)
	case s.Mechanism == SASLPlain && !k.TLS:
		return bad("uplink.kafka.sasl.mechanism", "PLAIN sends the password as it is: it needs tls: true")
	case k.CommandsTopic == "":
		return bad("uplink.kafka.commandsTopic", "required")
	}
	return nil
}

// KafkaConfig returns the Kafka uplink's configuration, logging to log,
// with its TLS configuration read from the CA, certificate and key
// files.
func (c *Config) KafkaConfig(log *slog.Logger) (kafka.Config, error) {
	k := c.Uplink.Kafka
	cfg := kafka.Config{
		Brokers:        k.Brokers,
		DeviceID:       c.DeviceID,
		SASL:           kafka.SASL{Mechanism: k.SASL.Mechanism, User: k.SASL.Username, Password: k.SASL.Password},
		CommandsTopic:  k.CommandsTopic,
		ConnectTimeout: k.ConnectTimeout,
		Logger:         log,
	}
	if !k.TLS {
		return cfg, nil
	}
	cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if k.CAFile != "" {
		pool, err := certpool.Load(k.CAFile)
		if err != nil {
			return kafka.Config{}, fmt.Errorf("uplink.kafka.caFile: %w", err)
		}
		cfg.TLS.RootCAs = pool
	}
	if k.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(k.CertFile, k.KeyFile)
		if err != nil {
			return kafka.Config{}, fmt.Errorf("uplink.kafka.certFile, keyFile: %w", err)
		}
		cfg.TLS.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
