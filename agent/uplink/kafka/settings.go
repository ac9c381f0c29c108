package kafka

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iot-hub/agent/internal/confkeys"
	"github.com/iot-hub/agent/internal/tlsfiles"
)

// Settings are the keys of the uplink.kafka section of the agent's
// configuration file: the Kafka uplink, which produces the outbox
// straight to the platform's topics and consumes the device's commands.
// Their values are not a Config's: the file names the TLS files, which
// Config reads into a Config's TLS. Zero values are keys left out, which
// SetDefaults fills in; the limit tags are the configuration's limits.
// Every key is left out of the printed configuration while it is empty,
// so that an MQTT configuration shows none.
type Settings struct {
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
	Topics TopicNames `yaml:"topics,omitempty"`
	// CommandsTopic is the old name of topics.commands, still read:
	// giving both is an error. SetDefaults moves it to topics.commands.
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
	Partitioner Partitioner `yaml:"partitioner,omitempty"`
	// CommandsPartitions is own (the partition the device id maps to)
	// or all (every partition, for a backend that sends commands without
	// a key: each gateway fetches the whole fleet's commands). Default
	// own.
	CommandsPartitions CommandsPartitions `yaml:"commandsPartitions,omitempty"`
	// ConnectTimeout bounds a connection attempt, and how long stopping
	// waits for the records in flight. Default 10s; 1s to 5m.
	ConnectTimeout time.Duration `yaml:"connectTimeout,omitempty" limit:"1s..5m"`
}

// TopicNames are the names of the Kafka topics the uplink reads and
// writes in the configuration file, one for each of the contracts'
// topics: the keys of uplink.kafka.topics.
type TopicNames struct {
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

// TopicName is a Kafka topic name in the configuration file. Read from
// the file, an empty one or one that Kafka would refuse is an error
// naming the key; a key left out (or null) takes the default.
type TopicName string

// UnmarshalText refuses a name that is not a Kafka topic name
// (CheckTopic).
func (t *TopicName) UnmarshalText(b []byte) error {
	if err := CheckTopic(string(b)); err != nil {
		return err
	}
	*t = TopicName(b)
	return nil
}

// topicKey is a key of TopicNames: its name, its value, and the field of
// Topics it goes to.
type topicKey struct {
	key   string
	name  *TopicName
	topic *string
}

// keys lists the keys of t, in the order of the struct, beside the
// fields of topics.
func (t *TopicNames) keys(topics *Topics) []topicKey {
	return []topicKey{
		{"commands", &t.Commands, &topics.Commands},
		{"responses", &t.Responses, &topics.Responses},
		{"events", &t.Events, &topics.Events},
		{"telemetry", &t.Telemetry, &topics.Telemetry},
		{"certificates", &t.Certificates, &topics.Certificates},
		{"users", &t.Users, &topics.Users},
		{"integrations", &t.Integrations, &topics.Integrations},
		{"dlq", &t.DLQ, &topics.DLQ},
	}
}

// SetDefaults fills in the keys left out of s, and moves CommandsTopic
// to Topics.Commands when that is left out: the contracts' topic names,
// and DefaultConfig's compression, partitioner, commands' partitions and
// connection timeout.
func (s *Settings) SetDefaults() {
	if s.Topics.Commands == "" {
		s.Topics.Commands, s.CommandsTopic = s.CommandsTopic, ""
	}
	d := DefaultConfig().withCommandsDefaults()
	for _, k := range s.Topics.keys(&d.Topics) {
		confkeys.SetDefault(k.name, TopicName(*k.topic))
	}
	confkeys.SetDefault(&s.Compression, d.Compression)
	confkeys.SetDefault(&s.Partitioner, d.Partitioner)
	confkeys.SetDefault(&s.CommandsPartitions, d.CommandsPartitions)
	confkeys.SetDefault(&s.ConnectTimeout, d.ConnectTimeout)
}

// Validate reports the first key of s (defaults filled in) that is
// wrong, as a *confkeys.FieldError at the key's path ("sasl.username")
// wrapping confkeys.ErrInvalid: a partitioner or commands' partitions
// that is not one, a broker that is not host:port, TLS files without
// TLS, a certificate without its key, a SASL mechanism that is not one
// or lacks its credentials, PLAIN without TLS, CommandsTopic beside
// Topics.Commands, a compression that is not one, or a topic name that
// is not one or is another topic's too.
func (s Settings) Validate() error {
	switch {
	case s.Partitioner != PartitionerMurmur2 && s.Partitioner != PartitionerLegacy:
		return confkeys.Invalid("partitioner", "%q: want murmur2 or legacy", s.Partitioner)
	case s.CommandsPartitions != CommandsOwn && s.CommandsPartitions != CommandsAll:
		return confkeys.Invalid("commandsPartitions", "%q: want own or all", s.CommandsPartitions)
	}
	for i, b := range s.Brokers {
		host, port, err := net.SplitHostPort(b)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return confkeys.Invalid("brokers["+strconv.Itoa(i)+"]", "%q is not host:port", b)
		}
	}
	sasl := s.SASL
	switch {
	case (s.CAFile != "" || s.CertFile != "" || s.KeyFile != "") && !s.TLS:
		return confkeys.Invalid("tls", "false, but caFile, certFile or keyFile is set: set tls: true")
	case (s.CertFile == "") != (s.KeyFile == ""):
		return confkeys.Invalid("certFile", "certFile and keyFile go together")
	case sasl.Mechanism != "" && sasl.Mechanism != MechanismPlain && sasl.Mechanism != MechanismSCRAMSHA256 && sasl.Mechanism != MechanismSCRAMSHA512:
		return confkeys.Invalid("sasl.mechanism", "%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", sasl.Mechanism)
	case sasl.Mechanism != "" && sasl.User == "":
		return confkeys.Invalid("sasl.username", "required with mechanism %s", sasl.Mechanism)
	case sasl.Mechanism != "" && sasl.Password == "":
		return confkeys.Invalid("sasl.password", "required with mechanism %s", sasl.Mechanism)
	case sasl.Mechanism == MechanismPlain && !s.TLS:
		return confkeys.Invalid("sasl.mechanism", "PLAIN sends the password as it is: it needs tls: true")
	case s.CommandsTopic != "":
		return confkeys.Invalid("commandsTopic", "set topics.commands only: commandsTopic is its old name")
	case !slices.Contains(Compressions, s.Compression):
		return confkeys.Invalid("compression", "%q: want %s", s.Compression, strings.Join(Compressions, ", "))
	}
	var none Topics
	keyOf := map[TopicName]string{}
	for _, k := range s.Topics.keys(&none) {
		path := "topics." + k.key
		if err := CheckTopic(string(*k.name)); err != nil {
			return confkeys.Invalid(path, "%v", err)
		}
		if other, dup := keyOf[*k.name]; dup {
			return confkeys.Invalid(path, "%q is also the name of uplink.kafka.topics.%s: each topic needs its own", *k.name, other)
		}
		keyOf[*k.name] = k.key
	}
	return nil
}

// Config returns the uplink's configuration of s: its brokers, SASL,
// topics, compression, commands' partitions and connection timeout, and,
// with TLS, the TLS configuration read from its files, whose error is a
// *tlsfiles.Error saying which of the CA bundle and the client pair
// could not be read. The caller sets the rest (the device, the log, the
// hooks).
func (s Settings) Config() (Config, error) {
	cfg := Config{
		Brokers:            s.Brokers,
		SASL:               s.SASL,
		Compression:        s.Compression,
		ConnectTimeout:     s.ConnectTimeout,
		Partitioner:        s.Partitioner,
		CommandsPartitions: s.CommandsPartitions,
	}
	for _, k := range s.Topics.keys(&cfg.Topics) {
		*k.topic = string(*k.name)
	}
	if !s.TLS {
		return cfg, nil
	}
	var err error
	if cfg.TLS, err = tlsfiles.Config(s.CAFile, s.CertFile, s.KeyFile); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
