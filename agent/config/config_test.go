package config_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/sensors/drivers"
	"github.com/iot-hub/agent/agent/sensors/sim"
	"github.com/iot-hub/agent/agent/sensors/thermal"
	"github.com/iot-hub/agent/internal/confkeys"
)

const valid = `
deviceId: gw-0042
stateDir: /tmp/agent
log:
  level: debug
  format: json
uplink:
  mqtt:
    broker: mqtts://broker.example:8883
    keepAlive: 45s
    sessionExpiry: 12h
    caFile: /etc/ca.pem
    certFile: /etc/cert.pem
    keyFile: /etc/key.pem
    username: gw
    password: s3cret
    window: 32
    backoffMin: 500ms
    backoffMax: 1m
    connectTimeout: 5s
outbox:
  maxBytes: 16MiB
  flushInterval: 200ms
  liveShare: 0.5
rpc:
  concurrency: 4
  timeout: 3s
  maxCommandBytes: 16KiB
sensors:
  - name: sim
    type: sim
    interval: 1s
    period: 1m
    readDelay: 250ms
  - name: board
    type: thermal
    path: /tmp/thermal
`

func TestParseValid(t *testing.T) {
	c, err := config.Parse([]byte(valid), nil)
	if err != nil {
		t.Fatalf("Parse = %v; want nil", err)
	}
	m := c.MQTTConfig(nil)
	if m.Broker != "mqtts://broker.example:8883" || m.DeviceID != "gw-0042" || m.KeepAlive != 45*time.Second ||
		m.SessionExpiry != 12*time.Hour || m.Window != 32 || m.BackoffMin != 500*time.Millisecond ||
		m.BackoffMax != time.Minute || m.ConnectTimeout != 5*time.Second || m.Username != "gw" || m.Password != "s3cret" ||
		m.CAFile != "/etc/ca.pem" || m.CertFile != "/etc/cert.pem" || m.KeyFile != "/etc/key.pem" ||
		m.MaxCommandBytes != 16<<10 {
		t.Errorf("MQTTConfig() = %+v", m)
	}
	o := c.OutboxConfig(nil)
	if o.MaxBytes != 16<<20 || o.FlushInterval != 200*time.Millisecond || o.LiveShare != 0.5 {
		t.Errorf("OutboxConfig() = %+v", o)
	}
	if got, want := c.OutboxPath(), "/tmp/agent/outbox.db"; got != want {
		t.Errorf("OutboxPath() = %q; want %q", got, want)
	}
	want := []drivers.Sensor{
		{Name: "sim", Type: "sim", Interval: time.Second, Timeout: time.Second,
			Settings: &sim.Settings{Period: time.Minute, ReadDelay: 250 * time.Millisecond}},
		{Name: "board", Type: "thermal", Interval: drivers.DefaultInterval, Timeout: drivers.DefaultInterval,
			Settings: &thermal.Settings{Path: "/tmp/thermal"}},
	}
	if !reflect.DeepEqual(c.Sensors, want) {
		t.Errorf("Sensors = %+v; want %+v", c.Sensors, want)
	}
	if c.Log.SlogLevel().String() != "DEBUG" || c.Log.Format != "json" {
		t.Errorf("Log = %+v", c.Log)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := config.Parse([]byte("deviceId: gw\nuplink: {mqtt: {embeddedBroker: {enabled: true}}}\nsensors: [{name: s, type: sim}]\n"), nil)
	if err != nil {
		t.Fatalf("Parse = %v; want nil", err)
	}
	m := c.Uplink.MQTT
	if m.Broker != "mqtt://127.0.0.1:1883" || m.EmbeddedBroker.Listen != "127.0.0.1:1883" {
		t.Errorf("broker %q, listen %q; want the embedded broker's defaults", m.Broker, m.EmbeddedBroker.Listen)
	}
	if m.KeepAlive != 30*time.Second || m.SessionExpiry != 24*time.Hour || m.Window != 256 || m.ConnectTimeout != 10*time.Second ||
		m.BackoffMin != time.Second || m.BackoffMax != 15*time.Second {
		t.Errorf("mqtt defaults = %+v", m)
	}
	if c.StateDir != config.DefaultStateDir || c.Log.Level != "info" || c.Log.Format != "auto" {
		t.Errorf("StateDir %q, Log %+v", c.StateDir, c.Log)
	}
	if c.Outbox.MaxBytes != 64*confkeys.MiB || c.Outbox.LiveShare != 0.25 {
		t.Errorf("Outbox = %+v", c.Outbox)
	}
	if c.RPC.Concurrency != 8 || c.RPC.Timeout != 10*time.Second || c.RPC.MaxCommandBytes != 64*confkeys.KiB {
		t.Errorf("RPC = %+v", c.RPC)
	}
	if s, k := c.Sensors[0], c.Sensors[0].Settings.(*sim.Settings); s.Interval != 10*time.Second || k.Period != 10*time.Minute || k.ReadDelay != 0 {
		t.Errorf("Sensors[0] = %+v, %+v", s, k)
	}
}

// A backoffMin above backoffMax's default, with backoffMax left out,
// raises backoffMax to it: a configuration that set only backoffMin
// when the default was 2m stays valid.
func TestParseLongBackoffMin(t *testing.T) {
	c, err := config.Parse([]byte("deviceId: gw\nuplink: {mqtt: {broker: \"mqtt://b:1883\", backoffMin: 30s}}\n"), nil)
	if err != nil {
		t.Fatalf("Parse(backoffMin: 30s) = %v; want nil", err)
	}
	if m := c.MQTTConfig(nil); m.BackoffMin != 30*time.Second || m.BackoffMax != 30*time.Second {
		t.Errorf("backoffMin, backoffMax = %v, %v; want 30s, 30s", m.BackoffMin, m.BackoffMax)
	}
}

func TestParseErrors(t *testing.T) {
	base := "deviceId: gw\nuplink:\n  mqtt:\n    broker: mqtt://b:1883\n"
	tlsBase := "deviceId: gw\nuplink:\n  mqtt:\n    broker: mqtts://b:8883\n    certFile: gw.pem\n    keyFile: gw.key\n"
	tests := []struct {
		name, yaml string
		err        error
		want       string // the whole message
	}{
		{"unknown key", base + "    brokr: x\n", config.ErrUnknownKey,
			"config: line 5: uplink.mqtt.brokr: unknown key (did you mean broker?)"},
		{"unknown key, case", "deviceID: gw\n", config.ErrUnknownKey,
			"config: line 1: deviceID: unknown key (did you mean deviceId?)"},
		{"unknown key, far", base + "    color: red\n", config.ErrUnknownKey,
			"config: line 5: uplink.mqtt.color: unknown key"},
		{"unknown top key", base + "sensor: []\n", config.ErrUnknownKey,
			"config: line 5: sensor: unknown key (did you mean sensors?)"},
		{"key of another sensor type", base + "sensors:\n  - name: s\n    type: sim\n    path: /x\n", config.ErrUnknownKey,
			"config: line 8: sensors[0].path: unknown key for a sim sensor (path is a key of thermal and ds18b20 sensors)"},
		{"unknown sensor key", base + "sensors:\n  - name: s\n    type: sim\n    intervall: 1s\n", config.ErrUnknownKey,
			"config: line 8: sensors[0].intervall: unknown key (did you mean interval?)"},
		{"bad duration", base + "    keepAlive: 30 seconds\n", config.ErrInvalid,
			`config: line 5: uplink.mqtt.keepAlive: invalid duration "30 seconds": want a Go duration such as "30s" or "1m30s"`},
		{"duration without unit", base + "    keepAlive: 30\n", config.ErrInvalid,
			`config: line 5: uplink.mqtt.keepAlive: 30 has no unit: write a duration such as "30s"`},
		{"bad size", base + "outbox:\n  maxBytes: 64MB\n", config.ErrInvalid,
			`config: line 6: outbox.maxBytes: invalid size "64MB": want bytes or a number with KiB, MiB or GiB, such as 64MiB`},
		{"wrong kind", base + "    window: many\n", config.ErrInvalid,
			`config: line 5: uplink.mqtt.window: want a whole number, not the string "many"`},
		{"mapping for scalar", base + "log: {level: {a: b}}\n", config.ErrInvalid,
			"config: line 5: log.level: want a string, not a mapping"},
		{"duplicate key", base + "    broker: mqtt://c\n", config.ErrSyntax, ""},
		{"list for mapping", base + "log: [a]\n", config.ErrInvalid,
			"config: line 5: log: want a mapping of keys to values, not a list"},
		{"syntax", "deviceId: [gw\n", config.ErrSyntax, ""},
		{"missing device id", "uplink: {mqtt: {broker: mqtt://b}}\n", config.ErrInvalid,
			"config: deviceId: required"},
		{"bad device id", "deviceId: a/b\nuplink: {mqtt: {broker: mqtt://b}}\n", config.ErrInvalid,
			`config: line 1: deviceId: "a/b" must not hold '/', '+', '#' or NUL`},
		{"missing broker", "deviceId: gw\n", config.ErrInvalid,
			"config: uplink.mqtt.broker: required (or enable uplink.mqtt.embeddedBroker, or set uplink.kafka.brokers)"},
		{"bad level", base + "log: {level: loud}\n", config.ErrInvalid,
			`config: line 5: log.level: "loud": want debug, info, warn or error`},
		{"mqtt limit", base + "    keepAlive: 500ms\n", config.ErrInvalid,
			"config: line 5: uplink.mqtt.keepAlive: 500ms is outside 1s..18h"},
		{"mqtt window", base + "    window: -1\n", config.ErrInvalid,
			"config: line 5: uplink.mqtt.window: -1 is outside 1..65535"},
		{"mqtt window fraction", base + "    window: 64.9\n", config.ErrInvalid,
			"config: line 5: uplink.mqtt.window: want a whole number, not 64.9"},
		{"mqtt protocol", base + "    protocol: v2\n", config.ErrInvalid,
			`config: line 5: uplink.mqtt.protocol: Protocol "v2" is not one of v1, legacy, dual`},
		{"legacy topic wildcard", base + "    protocol: legacy\n    legacyTopics:\n      telemetry: devices/+/telemetry\n", config.ErrInvalid,
			`config: line 7: uplink.mqtt.legacyTopics.telemetry: LegacyTopics.telemetry "devices/+/telemetry" holds a wildcard (+ or #) or NUL: it is a topic to publish or subscribe to, not a filter`},
		{"broker scheme", "deviceId: gw\nuplink:\n  mqtt:\n    broker: http://b\n", config.ErrInvalid,
			`config: line 4: uplink.mqtt.broker: Broker "http://b": scheme must be mqtt, tcp, mqtts, tls or ssl`},
		{"rpc concurrency", base + "rpc:\n  concurrency: -1\n", config.ErrInvalid,
			"config: line 6: rpc.concurrency: -1 is outside 1..1024"},
		{"rpc command size", base + "rpc:\n  maxCommandBytes: 2MiB\n", config.ErrInvalid,
			"config: line 6: rpc.maxCommandBytes: 2MiB is outside 1KiB..1MiB"},
		{"outbox limit", base + "outbox:\n  maxBytes: 1KiB\n", config.ErrInvalid,
			"config: line 6: outbox.maxBytes: 1KiB is below 1MiB"},
		{"sensor type", base + "sensors:\n  - name: s\n    type: bme\n", config.ErrInvalid,
			`config: line 7: sensors[0].type: unknown type "bme": want sim, thermal, modbus-rtu, modbus-tcp, serial-line, bme280, ds18b20, ads1115, sht3x, sht4x, gpio-input, gpio-counter or exec`},
		{"sensor interval", base + "sensors:\n  - name: s\n    type: sim\n    interval: 1ms\n", config.ErrInvalid,
			"config: line 8: sensors[0].interval: 1ms is outside 100ms..24h"},
		{"sim readDelay negative", base + "sensors:\n  - name: s\n    type: sim\n    readDelay: -1s\n", config.ErrInvalid,
			"config: line 8: sensors[0].readDelay: -1s is outside 0s..interval"},
		{"sim readDelay interval", base + "sensors:\n  - name: s\n    type: sim\n    interval: 2s\n    readDelay: 2s\n", config.ErrInvalid,
			"config: line 9: sensors[0].readDelay: 2s is not below the interval, 2s, which bounds every read"},
		{"readDelay of a thermal sensor", base + "sensors:\n  - name: s\n    type: thermal\n    readDelay: 1s\n", config.ErrUnknownKey,
			"config: line 8: sensors[0].readDelay: unknown key for a thermal sensor (readDelay is a key of sim sensors)"},
		{"sensor duplicate", base + "sensors:\n  - {name: s, type: sim}\n  - {name: s, type: sim}\n", config.ErrInvalid,
			`config: line 7: sensors[1].name: "s" is also the name of sensors[0]`},
		{"sensor name", base + "sensors:\n  - {name: ../x, type: sim}\n", config.ErrInvalid,
			`config: line 6: sensors[0].name: "../x": want up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`},
		{"embedded listen", "deviceId: gw\nuplink: {mqtt: {embeddedBroker: {enabled: true, listen: nowhere}}}\n", config.ErrInvalid,
			`config: line 2: uplink.mqtt.embeddedBroker.listen: "nowhere" is not host:port`},
		{"integrate overlap", "deviceId: gw\nuplink: {mqtt: {embeddedBroker: {enabled: true, integrate: {topics: [\"m/#\"], legacyTelemetry: [m/+/t]}}}}\n", config.ErrInvalid,
			`config: line 2: uplink.mqtt.embeddedBroker.integrate.legacyTelemetry[0]: "m/+/t" overlaps integrate.topics[0] "m/#": a message on both would be adapted and taken as is; make them disjoint`},
		{"alias", "deviceId: &a gw\n", config.ErrInvalid,
			"config: line 1: deviceId: YAML anchors and aliases are not supported: write the value out"},
		{"two documents", "deviceId: a\n---\ndeviceId: b\n", config.ErrSyntax, ""},
		{"client certificate without TLS", base + "    certFile: gw.pem\n    keyFile: gw.key\n", config.ErrInvalid,
			"config: line 5: uplink.mqtt.certFile: set, but the broker mqtt://b:1883 does not use TLS, so the certificate would never be presented: use mqtts://"},
		{"rotation without a CA", tlsBase, config.ErrInvalid,
			"config: certificates.caFile: required to renew the client certificate (or set the uplink's caFile): an issued certificate must chain to it; or set certificates.rotation: off"},
		{"rotation value", tlsBase + "certificates:\n  rotation: yes\n", config.ErrInvalid,
			`config: line 8: certificates.rotation: "yes": want on or off`},
		{"key algorithm", tlsBase + "certificates:\n  caFile: ca.pem\n  keyAlgorithm: ed25519\n", config.ErrInvalid,
			`config: line 9: certificates.keyAlgorithm: "ed25519": want ecdsa-p256 or rsa-2048`},
		{"retry order", tlsBase + "certificates:\n  caFile: ca.pem\n  retryMin: 2h\n", config.ErrInvalid,
			"config: certificates.retryMax: 1h0m0s is below retryMin 2h0m0s"},
		{"health on every interface", base + "health:\n  enabled: true\n  listen: 0.0.0.0:9464\n", config.ErrInvalid,
			`config: line 7: health.listen: Listen "0.0.0.0:9464": not a loopback address: 0.0.0.0 is not in 127.0.0.0/8 or ::1, and the endpoint, without authentication, is for the gateway itself`},
		{"health on a host name", base + "health:\n  listen: localhost:9464\n", config.ErrInvalid,
			`config: line 6: health.listen: Listen "localhost:9464": not a loopback address: "localhost" is not an IP address; write 127.0.0.1 or ::1`},
		{"health without a port", base + "health:\n  listen: 127.0.0.1\n", config.ErrInvalid,
			`config: line 6: health.listen: Listen "127.0.0.1": not host:port: address 127.0.0.1: missing port in address`},
		{"health key", base + "health:\n  enable: true\n", config.ErrUnknownKey,
			"config: line 6: health.enable: unknown key (did you mean enabled?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(tt.yaml), nil)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse(%q) = %v; want %v", tt.yaml, err, tt.err)
			}
			if _, ok := errors.AsType[*config.Error](err); !ok {
				t.Errorf("Parse(%q) = %T; want *config.Error", tt.yaml, err)
			}
			if tt.want != "" && err.Error() != tt.want {
				t.Errorf("Parse(%q) = %q;\nwant %q", tt.yaml, err, tt.want)
			}
		})
	}
}

// TestCertificates: rotation is on by default when the MQTT uplink
// presents a client certificate, checking issued ones against the
// uplink's CA bundle unless certificates.caFile says otherwise; off
// without a client certificate, with Kafka, or when set off.
func TestCertificates(t *testing.T) {
	tls := "deviceId: gw\nstateDir: /var/lib/x\nuplink:\n  mqtt:\n    broker: mqtts://b:8883\n    caFile: broker-ca.pem\n    certFile: gw.pem\n    keyFile: gw.key\n"
	c, err := config.Parse([]byte(tls), nil)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Certificates
	if !c.Rotates() || k.Rotation != "on" || k.KeyAlgorithm != "ecdsa-p256" || k.CAFile != "broker-ca.pem" ||
		k.RetryMin != time.Minute || k.RetryMax != time.Hour || k.TryTimeout != 30*time.Second {
		t.Errorf("defaults: rotates %v, %+v", c.Rotates(), k)
	}
	if c.CertsDir() != "/var/lib/x/certs" || c.RotationRequestFile() != "/var/lib/x/rotate-request" {
		t.Errorf("paths: %s, %s", c.CertsDir(), c.RotationRequestFile())
	}
	c, err = config.Parse([]byte(tls+"certificates: {caFile: device-ca.pem, keyAlgorithm: rsa-2048}\n"), nil)
	if err != nil || c.Certificates.CAFile != "device-ca.pem" || c.Certificates.KeyAlgorithm != "rsa-2048" {
		t.Errorf("set: %+v, %v", c.Certificates, err)
	}
	kafkaTLS := "deviceId: gw\nuplink:\n  kafka:\n    brokers: [\"k:9093\"]\n    tls: true\n    caFile: kafka-ca.pem\n    certFile: gw.pem\n    keyFile: gw.key\n"
	c, err = config.Parse([]byte(kafkaTLS), nil)
	if err != nil || !c.Rotates() || c.Certificates.CAFile != "kafka-ca.pem" {
		t.Errorf("kafka: rotates %v, caFile %q, %v; want rotation checked against the uplink's CA", c != nil && c.Rotates(), c.Certificates.CAFile, err)
	}
	if cert, key := c.FactoryPair(); cert != "gw.pem" || key != "gw.key" {
		t.Errorf("kafka factory pair %s, %s", cert, key)
	}
	for name, yaml := range map[string]string{
		"off":           tls + "certificates: {rotation: off}\n",
		"no cert":       "deviceId: gw\nuplink: {mqtt: {broker: \"mqtts://b:8883\"}}\n",
		"embedded demo": "deviceId: gw\nuplink: {mqtt: {embeddedBroker: {enabled: true}}}\n",
	} {
		c, err := config.Parse([]byte(yaml), nil)
		if err != nil || c.Rotates() {
			t.Errorf("%s: rotates %v, %v; want no rotation", name, c != nil && c.Rotates(), err)
		}
	}
}

// TestHealth: the endpoint is off by default, on 127.0.0.1:9464 when
// enabled, and on any loopback address given.
func TestHealth(t *testing.T) {
	base := "deviceId: gw\nuplink: {mqtt: {broker: \"mqtt://b:1883\"}}\n"
	tests := []struct {
		yaml    string
		enabled bool
		listen  string
	}{
		{base, false, "127.0.0.1:9464"},
		{base + "health: {enabled: true}\n", true, "127.0.0.1:9464"},
		{base + "health: {enabled: true, listen: \"127.0.0.2:0\"}\n", true, "127.0.0.2:0"},
		{base + "health: {enabled: true, listen: \"[::1]:9100\"}\n", true, "[::1]:9100"},
	}
	for _, tt := range tests {
		c, err := config.Parse([]byte(tt.yaml), nil)
		if err != nil {
			t.Errorf("Parse(%q) = %v; want nil", tt.yaml, err)
			continue
		}
		if c.Health.Enabled != tt.enabled || c.Health.Listen != tt.listen {
			t.Errorf("Parse(%q).Health = %+v; want enabled %v, listen %s", tt.yaml, c.Health, tt.enabled, tt.listen)
		}
		if hc := c.HealthConfig(nil); hc.Listen != tt.listen || hc.Validate() != nil {
			t.Errorf("HealthConfig() = %+v (%v); want listen %s, valid", hc, hc.Validate(), tt.listen)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte("deviceId: gw\nuplink:\n  mqtt:\n    brokr: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	want := "config: " + path + ":4: uplink.mqtt.brokr: unknown key (did you mean broker?)"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v; want %s", err, want)
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v; want os.ErrNotExist", err)
	}
}

func TestEnvOverride(t *testing.T) {
	env := map[string]string{config.EnvMQTTUsername: "env-user", config.EnvMQTTPassword: "env-pass"}
	c, err := config.Parse([]byte(valid), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if m := c.MQTTConfig(nil); m.Username != "env-user" || m.Password != "env-pass" {
		t.Errorf("Username, Password = %q, %q; want the environment's", m.Username, m.Password)
	}
	// An empty variable does not clear the file's value.
	env = map[string]string{config.EnvMQTTPassword: ""}
	c, err = config.Parse([]byte(valid), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Uplink.MQTT.Password != "s3cret" {
		t.Errorf("Password = %q; want the file's", c.Uplink.MQTT.Password)
	}
	// Load reads the process environment.
	t.Setenv(config.EnvMQTTPassword, "from-process")
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(valid), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = config.Load(path); err != nil || c.Uplink.MQTT.Password != "from-process" {
		t.Errorf("Load: password %q, %v; want from-process", c.Uplink.MQTT.Password, err)
	}
}

// parseWithEnvPassword parses valid with the MQTT password "from-env"
// from the environment.
func parseWithEnvPassword(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(valid), func(k string) string {
		if k == config.EnvMQTTPassword {
			return "from-env"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMaskedYAML(t *testing.T) {
	c := parseWithEnvPassword(t)
	b, err := c.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, secret := range []string{"from-env", "s3cret"} {
		if strings.Contains(out, secret) {
			t.Errorf("MaskedYAML() shows the password %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`password: "***"`, "keepAlive: 45s", "maxBytes: 16MiB", "deviceId: gw-0042", "period: 1m0s", "readDelay: 250ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("MaskedYAML() lacks %q:\n%s", want, out)
		}
	}
	if c.Uplink.MQTT.Password != "from-env" {
		t.Errorf("MaskedYAML changed the config: password %q", c.Uplink.MQTT.Password)
	}
	// The output reads back as the same configuration, but for the mask.
	back, err := config.Parse(b, nil)
	if err != nil {
		t.Fatalf("Parse(MaskedYAML()) = %v\n%s", err, out)
	}
	back.Uplink.MQTT.Password = c.Uplink.MQTT.Password
	if b2, _ := back.MaskedYAML(); string(b2) != out {
		t.Errorf("round trip:\n%s\nwant\n%s", b2, out)
	}
	// No password: nothing to mask, nothing printed.
	c.Uplink.MQTT.Password = ""
	b, _ = c.MaskedYAML()
	if strings.Contains(string(b), config.Mask) {
		t.Errorf("MaskedYAML() without a password shows the mask:\n%s", b)
	}
}

// TestMaskedYAMLHidesBrokerUsers: the embedded broker's users' passwords
// are secrets too.
func TestMaskedYAMLHidesBrokerUsers(t *testing.T) {
	c, err := config.Parse([]byte("deviceId: gw\nuplink: {mqtt: {embeddedBroker: {enabled: true, listen: 0.0.0.0:1883, users: [{username: meter-1, password: meter-s3cret, publish: [meters/1/#]}]}}}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	if out := string(b); strings.Contains(out, "meter-s3cret") || !strings.Contains(out, "username: meter-1") {
		t.Errorf("MaskedYAML() shows a user's password, or not the user:\n%s", out)
	}
	if c.Uplink.MQTT.EmbeddedBroker.Users[0].Password != "meter-s3cret" {
		t.Error("MaskedYAML changed the config")
	}
}

// TestMaskedJSON: the same configuration as MaskedYAML's, as a JSON
// object of the file's keys, passwords masked.
func TestMaskedJSON(t *testing.T) {
	b, err := parseWithEnvPassword(t).MaskedJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"from-env", "s3cret"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("MaskedJSON() shows the password %q:\n%s", secret, b)
		}
	}
	var m struct {
		DeviceID string `json:"deviceId"`
		Uplink   struct {
			MQTT struct {
				Password  string `json:"password"`
				KeepAlive string `json:"keepAlive"`
			} `json:"mqtt"`
		} `json:"uplink"`
		Outbox struct {
			MaxBytes string `json:"maxBytes"`
		} `json:"outbox"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("MaskedJSON() is not a JSON object: %v\n%s", err, b)
	}
	if m.DeviceID != "gw-0042" || m.Uplink.MQTT.Password != config.Mask || m.Uplink.MQTT.KeepAlive != "45s" || m.Outbox.MaxBytes != "16MiB" {
		t.Errorf("MaskedJSON() = %+v; want gw-0042, the password masked, keepAlive 45s, maxBytes 16MiB", m)
	}
}
