package config

import (
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/iot-hub/agent/agent/certs"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/internal/confkeys"
)

// applyCertificatesDefaults fills in the defaults of the certificates
// section: certs.Settings', and the uplink's caFile for caFile when the
// agent rotates.
func (c *Config) applyCertificatesDefaults() {
	k := &c.Certificates
	k.SetDefaults()
	if _, _, ca := c.uplinkCertFiles(); k.CAFile == "" && c.Rotates() {
		k.CAFile = ca
	}
}

// validateCertificates checks the certificates section
// (certs.Settings.Validate), then the rules between it and the uplink:
// a client certificate needs TLS, and rotation a CA bundle.
func (c *Config) validateCertificates(bad func(path, format string, args ...any) error) error {
	if err := c.Certificates.Validate(); err != nil {
		return c.ruleError("certificates", err)
	}
	switch {
	case c.UsesMQTT() && c.Uplink.MQTT.CertFile != "" && !mqtt.UsesTLS(c.Uplink.MQTT.Broker):
		return bad("uplink.mqtt.certFile", "set, but the broker %s does not use TLS, so the certificate would never be presented: use mqtts://", c.Uplink.MQTT.Broker)
	case c.Rotates() && c.Certificates.CAFile == "":
		return bad("certificates.caFile", "required to renew the client certificate (or set the uplink's caFile): an issued certificate must chain to it; or set certificates.rotation: off")
	}
	return nil
}

// Rotates reports whether the agent renews its client certificate: the
// uplink presents one and rotation is on.
func (c *Config) Rotates() bool {
	cert, _, _ := c.uplinkCertFiles()
	tls := mqtt.UsesTLS(c.Uplink.MQTT.Broker)
	if c.UsesKafka() {
		tls = c.Uplink.Kafka.TLS
	}
	return c.Certificates.Rotation != certs.RotationOff && cert != "" && tls
}

// FactoryPair returns the certificate and key files of the uplink in use:
// the pair a rotating agent imports at its first start.
func (c *Config) FactoryPair() (certFile, keyFile string) {
	cert, key, _ := c.uplinkCertFiles()
	return cert, key
}

// uplinkCertFiles returns the client certificate, key and CA bundle files
// of the uplink in use.
func (c *Config) uplinkCertFiles() (cert, key, ca string) {
	if c.UsesKafka() {
		k := c.Uplink.Kafka
		return k.CertFile, k.KeyFile, k.CAFile
	}
	m := c.Uplink.MQTT
	return m.CertFile, m.KeyFile, m.CAFile
}

// CertsDir is the certificate store: certs in the state directory.
func (c *Config) CertsDir() string { return filepath.Join(c.StateDir, "certs") }

// RotationRequestFile is where `agent cert rotate` asks the running agent
// for a renewal.
func (c *Config) RotationRequestFile() string { return filepath.Join(c.StateDir, "rotate-request") }

// RotatorConfig returns the rotation's configuration, less what the
// daemon wires (store, outbox, uplink, topic); it reads the CA bundle, an
// error of which names certificates.caFile.
func (c *Config) RotatorConfig(log *slog.Logger) (certs.RotatorConfig, error) {
	rc, err := c.Certificates.RotatorConfig()
	if err != nil {
		if e, ok := errors.AsType[*confkeys.FieldError](err); ok {
			err = e.Prefix("certificates")
		}
		return certs.RotatorConfig{}, err
	}
	rc.DeviceID, rc.RequestFile, rc.Logger = c.DeviceID, c.RotationRequestFile(), log
	return rc, nil
}
