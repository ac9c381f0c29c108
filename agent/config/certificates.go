package config

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/iot-hub/agent/agent/certs"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/internal/confkeys"
	"github.com/iot-hub/agent/internal/tlsfiles"
)

// Certificates configures the renewal of the client certificate on the
// device. The certificate and key of the uplink's certFile and keyFile
// (uplink.mqtt or uplink.kafka) are the factory pair: at the first start
// they are copied into the state directory's certs store, and from then
// on the store's current pair is what the agent presents; renewals
// replace it there and never write the factory files.
type Certificates struct {
	// Rotation is on or off. Default on: the agent renews its client
	// certificate when its uplink presents one (certFile, keyFile).
	Rotation string `yaml:"rotation"`
	// KeyAlgorithm is the algorithm of the keys it makes: ecdsa-p256 or
	// rsa-2048. Default ecdsa-p256.
	KeyAlgorithm string `yaml:"keyAlgorithm"`
	// CAFile is the PEM bundle of the CAs that issue device certificates:
	// an issued certificate must chain to it. Default: the uplink's
	// caFile. Rotation needs one or the other.
	CAFile string `yaml:"caFile"`
	// RetryMin and RetryMax bound the waits between CSRs the backend does
	// not answer, and between failed renewals: doubling, jittered.
	// Defaults 1m and 1h; at least 1s, and RetryMin at most RetryMax.
	RetryMin time.Duration `yaml:"retryMin" limit:"1s.."`
	// RetryMax: see RetryMin.
	RetryMax time.Duration `yaml:"retryMax" limit:"1s.."`
	// TryTimeout bounds the trial of a new certificate: the broker must
	// accept it within this long, or the agent goes back to the old one.
	// Default 30s; at least 1s.
	TryTimeout time.Duration `yaml:"tryTimeout" limit:"1s.."`
}

// Rotation settings.
const (
	RotationOn  = "on"
	RotationOff = "off"
)

// applyCertificatesDefaults fills in the defaults of the certificates
// section.
func (c *Config) applyCertificatesDefaults() {
	k := &c.Certificates
	d := certs.DefaultRotatorConfig()
	confkeys.SetDefault(&k.Rotation, RotationOn)
	confkeys.SetDefault(&k.KeyAlgorithm, d.KeyAlg)
	confkeys.SetDefault(&k.RetryMin, d.RetryMin)
	confkeys.SetDefault(&k.RetryMax, d.RetryMax)
	confkeys.SetDefault(&k.TryTimeout, d.TryTimeout)
	if _, _, ca := c.uplinkCertFiles(); k.CAFile == "" && c.Rotates() {
		k.CAFile = ca
	}
}

// validateCertificates checks the certificates section.
func (c *Config) validateCertificates(bad func(path, format string, args ...any) error) error {
	k := &c.Certificates
	switch {
	case !oneOf(k.Rotation, RotationOn, RotationOff):
		return bad("certificates.rotation", "%q: want on or off", k.Rotation)
	case !oneOf(k.KeyAlgorithm, certs.AlgECDSAP256, certs.AlgRSA2048):
		return bad("certificates.keyAlgorithm", "%q: want %s or %s", k.KeyAlgorithm, certs.AlgECDSAP256, certs.AlgRSA2048)
	case k.RetryMax < k.RetryMin:
		return bad("certificates.retryMax", "%v is below retryMin %v", k.RetryMax, k.RetryMin)
	case !c.UsesKafka() && c.Uplink.MQTT.CertFile != "" && !mqtt.UsesTLS(c.Uplink.MQTT.Broker):
		return bad("uplink.mqtt.certFile", "set, but the broker %s does not use TLS, so the certificate would never be presented: use mqtts://", c.Uplink.MQTT.Broker)
	case c.Rotates() && k.CAFile == "":
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
	return c.Certificates.Rotation != RotationOff && cert != "" && tls
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
// daemon wires (store, outbox, uplink, topic); it reads the CA bundle.
func (c *Config) RotatorConfig(log *slog.Logger) (certs.RotatorConfig, error) {
	k := c.Certificates
	roots, err := tlsfiles.CAPool(k.CAFile)
	if err != nil {
		return certs.RotatorConfig{}, fmt.Errorf("certificates.caFile: %w", err)
	}
	return certs.RotatorConfig{
		DeviceID: c.DeviceID, Roots: roots, KeyAlg: k.KeyAlgorithm,
		RetryMin: k.RetryMin, RetryMax: k.RetryMax, TryTimeout: k.TryTimeout,
		RequestFile: c.RotationRequestFile(), Logger: log,
	}, nil
}
