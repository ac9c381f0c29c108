package kafka

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/contracts"
)

// Config configures an Uplink. Zero values mean the defaults of
// DefaultConfig.
type Config struct {
	// Brokers are the seed brokers, host:port (the port defaults to 9092).
	// Required.
	Brokers []string
	// DeviceID is this gateway's id: the key of the records it produces
	// (when a record has none) and of the commands it reads. Required.
	DeviceID string
	// ClientID is the Kafka client id. Default "iot-hub-agent-" + DeviceID.
	ClientID string
	// TLS, when not nil, is used to dial the brokers: the CA pool the
	// brokers' certificates must chain to and the client certificate.
	// Nil means plaintext. The uplink clones it and never modifies it.
	TLS *tls.Config
	// SASL authenticates the connections, when its Mechanism is set.
	SASL SASL
	// Topics are the names of the Kafka topics the uplink reads and
	// writes. Each one left empty is the contracts' name.
	Topics Topics
	// Compression is the codec of the record batches the uplink
	// produces: CompressionNone, CompressionGzip, CompressionSnappy,
	// CompressionLZ4 or CompressionZstd. Default CompressionGzip, the one
	// codec besides none that every Kafka client reads without an extra
	// package (kafkajs ships only gzip).
	Compression string
	// Window is how many records may be produced and not yet acknowledged
	// by the brokers at once: one round of the drain, which also holds
	// no more than RoundBytes. Default 4096: a round waits for its
	// acknowledgements before the next is sent, so a drain goes at most
	// Window records per round trip, and round trips grow long on a
	// gateway's link, and on its two cores when another uplink drains
	// beside this one (see BenchmarkTwoUplinks: 1024 reached 0.7× the
	// rate alone there, 4096 0.9×).
	Window int
	// ConnectTimeout bounds dialing a broker, and each wait of a stop:
	// for the records in flight and the offline status, and for the
	// last command cursor to be stored. Default 10 s.
	ConnectTimeout time.Duration
	// Logger receives the uplink's log lines. Those whose pace the
	// brokers set (franz-go's warnings, errors reading commands, records
	// refused or quarantined) are limited to one every 30 s per kind, the
	// next saying how many it suppressed. Default: discard.
	Logger *slog.Logger
	// OnPublished, when set, is told of every record the brokers
	// acknowledged: its lane, and its latency, from its Append to the
	// acknowledgement (Entry.AppendedAt is to the millisecond; a clock
	// set back makes it 0). It is called once per record, from the
	// uplink's goroutines: it must be cheap, safe for concurrent use and
	// must not block.
	OnPublished func(lane outbox.Lane, latency time.Duration)
	// Partitioner is how the producers of commands and certificates
	// place a device's: PartitionerMurmur2 (the default) or
	// PartitionerLegacy. It chooses the partition read with CommandsOwn.
	Partitioner Partitioner
	// CommandsPartitions is which partitions of Topics.Commands and
	// Topics.Certificates are read: CommandsOwn (the default) or
	// CommandsAll.
	CommandsPartitions CommandsPartitions
	// OnOtherDevice, when set, is told of every record read from
	// Topics.Commands that is for another device, and skipped (not of
	// the records of Topics.Certificates skipped). It is called once per
	// record, on the receive path: it must be cheap and must not block.
	OnOtherDevice func()
}

// SASL is the authentication of the connections; its yaml tags are the
// keys of uplink.kafka.sasl in the agent's configuration file.
type SASL struct {
	// Mechanism is "" (none), "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	Mechanism string `yaml:"mechanism,omitempty"`
	// User and Password are the credentials; User is required with a
	// Mechanism, and so is Password in the configuration file. The
	// password is never logged.
	User string `yaml:"username,omitempty"`
	// Password: see User.
	Password string `yaml:"password,omitempty"`
}

// SASL mechanisms.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Compression codecs of Config.Compression.
const (
	CompressionNone   = "none"
	CompressionGzip   = "gzip"
	CompressionSnappy = "snappy"
	CompressionLZ4    = "lz4"
	CompressionZstd   = "zstd"
)

// Compressions are the codecs of Config.Compression, in the order
// messages list them.
var Compressions = []string{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd}

// Limits of Config.
const (
	// MaxWindow is the largest Window.
	MaxWindow = 1 << 16
	// RoundBytes bounds a round's records as the outbox stores them, so
	// that a round of large records (answers, events) takes no more
	// memory than a full Window of telemetry (4096 records of 3
	// readings, about 420 bytes each).
	RoundBytes = 2 << 20
	// MinConnectTimeout and MaxConnectTimeout bound ConnectTimeout.
	MinConnectTimeout = 100 * time.Millisecond
	MaxConnectTimeout = 10 * time.Minute
)

// DefaultConfig returns the defaults (Brokers and DeviceID are empty).
func DefaultConfig() Config {
	return Config{
		Topics:         DefaultTopics(),
		Compression:    CompressionGzip,
		Window:         4096,
		ConnectTimeout: 10 * time.Second,
		Logger:         slog.New(slog.DiscardHandler),
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ClientID == "" {
		c.ClientID = "iot-hub-agent-" + c.DeviceID
	}
	c.Topics = c.Topics.withDefaults()
	if c.Compression == "" {
		c.Compression = d.Compression
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	c = c.withCommandsDefaults()
	return c
}

// Validate reports the first field (after defaults) that is wrong, naming
// it and the limit.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: Brokers is required", ErrInvalidConfig)
	}
	for i, b := range c.Brokers {
		if b == "" || strings.ContainsAny(b, " \t/") {
			return fmt.Errorf("%w: Brokers[%d] %q is not host:port", ErrInvalidConfig, i, b)
		}
	}
	if err := contracts.CheckDeviceID(c.DeviceID); err != nil {
		return fmt.Errorf("%w: DeviceID: %w", ErrInvalidConfig, err)
	}
	if err := c.validateCommands(); err != nil {
		return err
	}
	switch c.SASL.Mechanism {
	case "":
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		if c.SASL.User == "" {
			return fmt.Errorf("%w: SASL.User is required with mechanism %s", ErrInvalidConfig, c.SASL.Mechanism)
		}
	default:
		return fmt.Errorf("%w: SASL.Mechanism %q is not %s, %s or %s", ErrInvalidConfig,
			c.SASL.Mechanism, MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512)
	}
	if err := c.Topics.check(); err != nil {
		return err
	}
	switch {
	case c.SASL.Mechanism == "" && (c.SASL.User != "" || c.SASL.Password != ""):
		return fmt.Errorf("%w: SASL.User or SASL.Password is set without SASL.Mechanism", ErrInvalidConfig)
	case len(cursorName(c.Topics.Commands, math.MaxInt32)) > outbox.MaxCursorName:
		return fmt.Errorf("%w: Topics.Commands of %d bytes is too long to name the outbox cursors (%d bytes with kafka/ and the partition)",
			ErrInvalidConfig, len(c.Topics.Commands), outbox.MaxCursorName)
	case len(cursorName(c.Topics.Certificates, math.MaxInt32)) > outbox.MaxCursorName:
		return fmt.Errorf("%w: Topics.Certificates of %d bytes is too long to name the outbox cursors (%d bytes with kafka/ and the partition)",
			ErrInvalidConfig, len(c.Topics.Certificates), outbox.MaxCursorName)
	case !slices.Contains(Compressions, c.Compression):
		return fmt.Errorf("%w: Compression %q is not one of %s", ErrInvalidConfig, c.Compression, strings.Join(Compressions, ", "))
	case c.Window < 1 || c.Window > MaxWindow:
		return fmt.Errorf("%w: Window %d is outside 1..%d", ErrInvalidConfig, c.Window, MaxWindow)
	case c.ConnectTimeout < MinConnectTimeout || c.ConnectTimeout > MaxConnectTimeout:
		return fmt.Errorf("%w: ConnectTimeout %v is outside %v..%v", ErrInvalidConfig, c.ConnectTimeout, MinConnectTimeout, MaxConnectTimeout)
	}
	return nil
}
