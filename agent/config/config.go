package config

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/certs"
	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/sensors/drivers"
	"github.com/iot-hub/agent/agent/update"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Config is the agent's configuration file. The yaml tags are its keys.
// Load and Parse return it complete: every default filled in.
type Config struct {
	// DeviceID is this gateway's id: the MQTT client id, the {deviceId} of
	// its topics and the source id of its messages. Required; it must not
	// hold '/', '+', '#' or NUL.
	DeviceID string `yaml:"deviceId"`
	// StateDir holds what the agent keeps across restarts: the outbox
	// (outbox.db) and the sensors' files. It is created, mode 0700, when
	// missing. Default /var/lib/iot-hub-agent.
	StateDir string `yaml:"stateDir"`
	// Log configures the log.
	Log Log `yaml:"log"`
	// Uplink configures the connection to the backend.
	Uplink Uplink `yaml:"uplink"`
	// Outbox configures the durable queue: its keys are
	// outbox.Settings'.
	Outbox outbox.Settings `yaml:"outbox"`
	// RPC configures how commands are answered: its keys are
	// rpc.Settings'.
	RPC rpc.Settings `yaml:"rpc"`
	// Certificates configures the renewal of the client certificate: its
	// keys are certs.Settings'.
	Certificates certs.Settings `yaml:"certificates"`
	// Health configures the local health and metrics endpoint: its keys
	// are health.Settings'.
	Health health.Settings `yaml:"health"`
	// Update configures updateAgent: its keys are update.Settings'.
	Update update.Settings `yaml:"update"`
	// Sensors lists the sensors to read; it may be empty. Each entry's
	// keys are those of drivers.Sensor: its name, type, interval and
	// timeout, and its type's.
	Sensors []drivers.Sensor `yaml:"sensors"`

	doc  *confkeys.Document // the file read, for the lines of keys in messages
	path string             // the file, when Load read it; for Reload
}

// Log configures the log, written to stderr.
type Log struct {
	// Level is the least severe level written: debug, info, warn or
	// error. Default info.
	Level string `yaml:"level"`
	// Format is text, json, or auto: text when stderr is a terminal, JSON
	// otherwise (systemd's journal, a file). Default auto.
	Format string `yaml:"format"`
	// RingBytes is how much of the latest log the agent keeps in memory
	// for the getLogs method, the lines written at Level and above, as
	// JSON. Default 256KiB; 16KiB to 16MiB. rpc.disable: [getLogs]
	// keeps none.
	RingBytes confkeys.Size `yaml:"ringBytes" limit:"16KiB..16MiB"`
}

// DefaultLogRingBytes is the default of Log.RingBytes.
const DefaultLogRingBytes = 256 << 10

// Log levels and formats.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"

	FormatAuto = "auto"
	FormatText = "text"
	FormatJSON = "json"
)

// SlogLevel returns the slog level of l.Level; info when it is not one.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarn:
		return slog.LevelWarn
	case LevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Uplink configures the connection to the backend: MQTT v5 through a
// broker, Kafka straight to the platform's topics when
// uplink.kafka.brokers is set, or both at once, in the migration phase
// that Phase says.
type Uplink struct {
	// Phase is the platform's migration phase, when both uplinks are
	// configured (see Phase*): A, every record on both; B, on Kafka, and
	// on MQTT while Kafka is out; C, on Kafka alone. Default A. SIGHUP
	// reloads it.
	Phase string `yaml:"phase,omitempty"`
	// FailoverAfter is how long Kafka must be out, in phase B, before
	// records go out on MQTT instead. 1s..1h; default 30s. Ignored with
	// one uplink.
	FailoverAfter time.Duration `yaml:"failoverAfter,omitempty" limit:"1s..1h"`
	// MQTT configures the MQTT v5 uplink.
	MQTT MQTT `yaml:"mqtt"`
	// Kafka configures the Kafka uplink: its keys are kafka.Settings',
	// which take their defaults only when it is chosen (brokers set).
	// IOT_HUB_KAFKA_PASSWORD overrides its SASL password, which keeps it
	// out of the file; MaskedYAML prints the password as "***".
	Kafka kafka.Settings `yaml:"kafka,omitempty"`
}

// MQTT configures the MQTT v5 uplink: the keys of mqtt.Settings, and
// those of its embedded broker, broker.Settings. Its broker is required,
// unless the embedded broker is enabled: then it defaults to
// mqtt://<embeddedBroker.listen> (on 127.0.0.1 when that listens on every
// interface), mqtts:// when the embedded broker serves TLS. IOT_HUB_MQTT_USERNAME and IOT_HUB_MQTT_PASSWORD override
// its username and password, which keeps them out of the file;
// MaskedYAML prints the password as "***".
type MQTT struct {
	mqtt.Settings `yaml:",inline"`
	// EmbeddedBroker runs an MQTT broker inside the agent.
	EmbeddedBroker broker.Settings `yaml:"embeddedBroker"`
}

// DefaultStateDir is the default stateDir.
const DefaultStateDir = "/var/lib/iot-hub-agent"

// Environment variables that override the file, so that secrets can stay
// out of it (systemd's EnvironmentFile or LoadCredential). A variable that
// is set and not empty wins over the file.
const (
	EnvMQTTUsername = "IOT_HUB_MQTT_USERNAME"
	EnvMQTTPassword = "IOT_HUB_MQTT_PASSWORD"
)

// Mask is what MaskedYAML prints instead of a secret.
const Mask = "***"

// OutboxPath is the outbox's file: outbox.db in the state directory.
func (c *Config) OutboxPath() string { return filepath.Join(c.StateDir, "outbox.db") }

// MQTTConfig returns the uplink's configuration, logging to log.
func (c *Config) MQTTConfig(log *slog.Logger) mqtt.Config {
	return mqtt.Config{
		Settings:        c.Uplink.MQTT.Settings,
		DeviceID:        c.DeviceID,
		MaxCommandBytes: int(c.RPC.MaxCommandBytes),
		Logger:          log,
	}
}

// OutboxConfig returns the outbox's configuration, logging to log: it
// is drained by the configured uplinks (UplinkMQTT, UplinkKafka).
func (c *Config) OutboxConfig(log *slog.Logger) outbox.Config {
	var uplinks []string
	if c.UsesMQTT() {
		uplinks = append(uplinks, UplinkMQTT)
	}
	if c.UsesKafka() {
		uplinks = append(uplinks, UplinkKafka)
	}
	return outbox.Config{Settings: c.Outbox, Uplinks: uplinks, Logger: log}
}

// RPCConfig returns the RPC dispatcher's configuration, logging to log.
func (c *Config) RPCConfig(log *slog.Logger) rpc.Config {
	return rpc.Config{DeviceID: c.DeviceID, Settings: c.RPC, Logger: log}
}

// HealthConfig returns the health endpoint's configuration, logging to
// log.
func (c *Config) HealthConfig(log *slog.Logger) health.Config {
	return health.Config{Settings: c.Health, Logger: log}
}

// applyDefaults fills in every key left out, taking a zero value for
// left out: a number key written as 0 was refused as it was read, unless
// 0 is a value of that key, whose default is then 0 too (or whose field
// is a pointer, nil when left out).
func (c *Config) applyDefaults() {
	if c.UsesKafka() {
		c.Uplink.Kafka.SetDefaults()
	}
	if c.UsesBoth() {
		if c.Uplink.Phase == "" {
			c.Uplink.Phase = PhaseA
		}
		if c.Uplink.FailoverAfter == 0 {
			c.Uplink.FailoverAfter = DefaultFailoverAfter
		}
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.Log.Level == "" {
		c.Log.Level = LevelInfo
	}
	if c.Log.Format == "" {
		c.Log.Format = FormatAuto
	}
	confkeys.SetDefault(&c.Log.RingBytes, DefaultLogRingBytes)
	m := &c.Uplink.MQTT
	m.EmbeddedBroker.SetDefaults()
	if m.Broker == "" && m.EmbeddedBroker.Enabled {
		m.Broker = m.embeddedBrokerURL()
	}
	m.Settings.SetDefaults()
	c.Outbox.SetDefaults()
	c.RPC.SetDefaults()
	c.applyCertificatesDefaults()
	c.Health.SetDefaults()
	c.Update.SetDefaults()
	for i := range c.Sensors {
		c.Sensors[i].SetDefaults()
	}
}

// applyEnv applies the environment overrides; getenv may be nil.
func (c *Config) applyEnv(getenv func(string) string) {
	if getenv == nil {
		return
	}
	if v := getenv(EnvMQTTUsername); v != "" {
		c.Uplink.MQTT.Username = v
	}
	if v := getenv(EnvMQTTPassword); v != "" {
		c.Uplink.MQTT.Password = v
	}
	if v := getenv(EnvKafkaPassword); v != "" {
		c.Uplink.Kafka.SASL.Password = v
	}
}
