package config

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/goccy/go-yaml"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Load reads the configuration file at path as Parse does, with the
// process's environment, and then the files it names that the agent
// reads only as it starts (the embedded broker's TLS files), an error at
// the key of the file. Errors name the configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, os.Getenv)
	if err == nil {
		err = c.checkFiles()
	}
	if e, ok := errors.AsType[*Error](err); ok {
		e.File = path
	}
	if err != nil {
		return nil, err
	}
	c.path = path
	return c, nil
}

// Path is the file c was loaded from; empty when c was parsed from bytes.
func (c *Config) Path() string { return c.path }

// Reload reads again the file c was loaded from, as Load does.
func (c *Config) Reload() (*Config, error) {
	if c.path == "" {
		return nil, errors.New("config: reload: the configuration was not read from a file")
	}
	return Load(c.path)
}

// Parse reads a configuration from data: it refuses unknown keys, applies
// the environment overrides read through getenv (nil: none), fills in the
// defaults and validates. Errors are [*Error]s.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	c, err := decode(data)
	if err != nil {
		return nil, err
	}
	c.applyEnv(getenv)
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decode parses data onto a new Config, which keeps the document for the
// lines of its keys.
func decode(data []byte) (*Config, error) {
	doc, err := confkeys.Parse(data)
	if err == nil {
		c := &Config{doc: doc}
		if err = doc.Decode(c); err == nil {
			return c, nil
		}
	}
	if e, ok := errors.AsType[*confkeys.FieldError](err); ok {
		return nil, &Error{Line: e.Line, Path: e.Path, Msg: e.Msg, Err: e.Err}
	}
	return nil, &Error{Msg: err.Error(), Err: ErrInvalid}
}

// MaskedYAML returns c as YAML, every key present, with the passwords
// (the uplinks', the embedded broker's users') replaced by "***" when
// they are set.
func (c *Config) MaskedYAML() ([]byte, error) {
	m := *c
	if m.Uplink.MQTT.Password != "" {
		m.Uplink.MQTT.Password = Mask
	}
	users := slices.Clone(m.Uplink.MQTT.EmbeddedBroker.Users)
	for i := range users {
		if users[i].Password != "" {
			users[i].Password = Mask
		}
	}
	m.Uplink.MQTT.EmbeddedBroker.Users = users
	if m.Uplink.Kafka.SASL.Password != "" {
		m.Uplink.Kafka.SASL.Password = Mask
	}
	b, err := yaml.MarshalWithOptions(&m, yaml.Indent(2), yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return b, nil
}

// MaskedJSON returns c as MaskedYAML does, as a JSON object: the keys of
// the file, durations and sizes as the file writes them ("10s",
// "64KiB").
func (c *Config) MaskedJSON() ([]byte, error) {
	y, err := c.MaskedYAML()
	if err != nil {
		return nil, err
	}
	b, err := yaml.YAMLToJSON(y)
	if err != nil {
		return nil, fmt.Errorf("config: as JSON: %w", err)
	}
	return b, nil
}

// Validate reports the first value of c (with defaults filled in) that is
// wrong, naming its key path and, when c was read from a file, its line.
// The limits of a number key on its own are not checked here but as the
// file is read (see the package doc); Validate checks those between keys
// (a sensor's timeout and its interval) and the sets with holes.
func (c *Config) Validate() error {
	bad := func(path, format string, args ...any) error {
		return &Error{Line: c.doc.Line(path), Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
	}
	m := &c.Uplink.MQTT
	switch {
	case c.DeviceID == "":
		return bad("deviceId", "required")
	case contracts.CheckDeviceID(c.DeviceID) != nil:
		return bad("deviceId", "%q must not hold '/', '+', '#' or NUL", c.DeviceID)
	case c.StateDir == "":
		return bad("stateDir", "required")
	case !oneOf(c.Log.Level, LevelDebug, LevelInfo, LevelWarn, LevelError):
		return bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	case !oneOf(c.Log.Format, FormatAuto, FormatText, FormatJSON):
		return bad("log.format", "%q: want auto, text or json", c.Log.Format)
	case !c.UsesKafka() && m.Broker == "":
		return bad("uplink.mqtt.broker", "required (or enable uplink.mqtt.embeddedBroker, or set uplink.kafka.brokers)")
	case !c.UsesBoth() && c.Uplink.Phase != "":
		return bad("uplink.phase", "%q, but only one uplink is configured: the phases are for MQTT and Kafka together (set uplink.mqtt.broker and uplink.kafka.brokers), or drop it", c.Uplink.Phase)
	case !oneOf(c.Uplink.Phase, "", PhaseA, PhaseB, PhaseC):
		return bad("uplink.phase", "%q: want A (both paths), B (Kafka, MQTT when Kafka is out) or C (Kafka alone)", c.Uplink.Phase)
	}
	if c.UsesKafka() {
		if err := c.validateKafka(); err != nil {
			return err
		}
	}
	if err := c.validateCertificates(bad); err != nil {
		return err
	}
	if err := c.validateEmbeddedBroker(bad); err != nil {
		return err
	}
	if c.UsesMQTT() {
		if err := m.Settings.Validate(); err != nil {
			return c.fieldError("uplink.mqtt", err)
		}
	}
	if err := c.Outbox.Validate(); err != nil {
		return c.fieldError("outbox", err)
	}
	if err := c.RPC.Validate(); err != nil {
		return c.fieldError("rpc", err)
	}
	if err := c.Health.Validate(); err != nil {
		return c.fieldError("health", err)
	}
	if err := c.Update.Validate(); err != nil {
		return c.fieldError("update", err)
	}
	return c.validateSensors()
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
