package config

import (
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/internal/confkeys"
	"github.com/iot-hub/agent/internal/tlsfiles"
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
	// Topics names the Kafka topics; each one left out is the contracts'
	// name.
	Topics KafkaTopics `yaml:"topics,omitempty"`
	// CommandsTopic is the old name of topics.commands, still read:
	// giving both is an error. Parse moves it to topics.commands.
	//
	// Deprecated: use Topics.Commands.
	CommandsTopic TopicName `yaml:"commandsTopic,omitempty"`
	// Compression is the codec of the record batches produced: none,
	// gzip, snappy, lz4 or zstd. Default gzip, which every Kafka client
	// reads without an extra package (kafkajs ships only gzip).
	Compression string `yaml:"compression,omitempty"`
	// Partitioner is how the backend's producer places a command keyed
	// by the device id: murmur2 (Kafka's Java client, librdkafka's
	// murmur2_random, kafkajs 2's default) or legacy (kafkajs's
	// LegacyPartitioner). Default murmur2.
	Partitioner string `yaml:"partitioner,omitempty"`
	// CommandsPartitions is own (the partition the device id maps to)
	// or all (every partition, for a backend that sends commands without
	// a key: each gateway fetches the whole fleet's commands). Default
	// own.
	CommandsPartitions string `yaml:"commandsPartitions,omitempty"`
	// ConnectTimeout bounds a connection attempt, and how long stopping
	// waits for the records in flight. Default 10s; 1s to 5m.
	ConnectTimeout time.Duration `yaml:"connectTimeout,omitempty" limit:"1s..5m"`
}

// KafkaTopics are the names of the Kafka topics the uplink reads and
// writes, one for each of the contracts' topics.
type KafkaTopics struct {
	// Commands is the topic of the commands. Default device.commands.
	Commands TopicName `yaml:"commands,omitempty"`
	// Responses takes the responses to commands. Default device.responses.
	Responses TopicName `yaml:"responses,omitempty"`
	// Events takes the status and binding events. Default device.events.
	Events TopicName `yaml:"events,omitempty"`
	// Telemetry takes the sensors' readings. Default device.telemetry.
	Telemetry TopicName `yaml:"telemetry,omitempty"`
	// Certificates takes the certificate rotation's events. Default
	// certificate.events.
	Certificates TopicName `yaml:"certificates,omitempty"`
	// Users takes user.* events. Default user.events.
	Users TopicName `yaml:"users,omitempty"`
	// Integrations takes integration.* events. Default
	// integration.events.
	Integrations TopicName `yaml:"integrations,omitempty"`
	// DLQ takes dead letters. Default dlq.
	DLQ TopicName `yaml:"dlq,omitempty"`
}

// TopicName is a Kafka topic name. Read from a file, an empty one or one
// that Kafka would refuse is an error naming the key; a key left out (or
// null) takes the default.
type TopicName string

// UnmarshalText refuses a name that is not a Kafka topic name.
func (t *TopicName) UnmarshalText(b []byte) error {
	if err := kafka.CheckTopic(string(b)); err != nil {
		return err
	}
	*t = TopicName(b)
	return nil
}

// topicKey is a key of KafkaTopics: its name, its value, and the field
// of kafka.Topics it goes to.
type topicKey struct {
	key       string
	name      *TopicName
	component *string
}

// topics lists the keys of t, in the order of the struct, beside the
// fields of k.
func (t *KafkaTopics) topics(k *kafka.Topics) []topicKey {
	return []topicKey{
		{"commands", &t.Commands, &k.Commands},
		{"responses", &t.Responses, &k.Responses},
		{"events", &t.Events, &k.Events},
		{"telemetry", &t.Telemetry, &k.Telemetry},
		{"certificates", &t.Certificates, &k.Certificates},
		{"users", &t.Users, &k.Users},
		{"integrations", &t.Integrations, &k.Integrations},
		{"dlq", &t.DLQ, &k.DLQ},
	}
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

// Defaults of the Kafka uplink; the topics' are kafka.DefaultTopics.
const (
	DefaultKafkaCompression    = kafka.CompressionGzip
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
	if k.Topics.Commands == "" {
		k.Topics.Commands, k.CommandsTopic = k.CommandsTopic, ""
	}
	d := kafka.DefaultTopics()
	for _, t := range k.Topics.topics(&d) {
		confkeys.SetDefault(t.name, TopicName(*t.component))
	}
	confkeys.SetDefault(&k.Compression, DefaultKafkaCompression)
	confkeys.SetDefault(&k.ConnectTimeout, DefaultKafkaConnectTimeout)
	k.applyCommandsDefaults()
}

// validateKafka reports the first wrong key of uplink.kafka.
func (c *Config) validateKafka(bad func(path, format string, args ...any) error) error {
	k := &c.Uplink.Kafka
	if err := k.validateCommands(bad); err != nil {
		return err
	}
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
	case k.CommandsTopic != "":
		return bad("uplink.kafka.commandsTopic", "set topics.commands only: commandsTopic is its old name")
	case !oneOf(k.Compression, kafka.Compressions...):
		return bad("uplink.kafka.compression", "%q: want %s", k.Compression, strings.Join(kafka.Compressions, ", "))
	}
	var none kafka.Topics
	keyOf := map[TopicName]string{}
	for _, t := range k.Topics.topics(&none) {
		path := "uplink.kafka.topics." + t.key
		if err := kafka.CheckTopic(string(*t.name)); err != nil {
			return bad(path, "%v", err)
		}
		if other, dup := keyOf[*t.name]; dup {
			return bad(path, "%q is also the name of uplink.kafka.topics.%s: each topic needs its own", *t.name, other)
		}
		keyOf[*t.name] = t.key
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
		Compression:    k.Compression,
		ConnectTimeout: k.ConnectTimeout,
		Logger:         log,
	}
	for _, t := range k.Topics.topics(&cfg.Topics) {
		*t.component = string(*t.name)
	}
	k.setCommands(&cfg)
	if !k.TLS {
		return cfg, nil
	}
	var err error
	cfg.TLS, err = tlsfiles.Config(k.CAFile, k.CertFile, k.KeyFile)
	if e, ok := errors.AsType[*tlsfiles.Error](err); ok {
		return kafka.Config{}, e.Name("uplink.kafka.caFile", "uplink.kafka.certFile, keyFile")
	}
	return cfg, nil
}
