package certs

import (
	"time"

	"github.com/iot-hub/agent/internal/confkeys"
	"github.com/iot-hub/agent/internal/tlsfiles"
)

// Settings are the keys of the certificates section of the agent's
// configuration file: the renewal of the client certificate on the
// device. The certificate and key of the uplink's certFile and keyFile
// (uplink.mqtt or uplink.kafka) are the factory pair: at the first start
// they are copied into the state directory's certs store, and from then
// on the store's current pair is what the agent presents; renewals
// replace it there and never write the factory files.
//
// Zero values are keys left out, which SetDefaults fills in, but for
// CAFile, whose default is the uplink's caFile (the agent's to fill in);
// the limit tags are the configuration's limits.
type Settings struct {
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

// Values of Settings.Rotation.
const (
	RotationOn  = "on"
	RotationOff = "off"
)

// SetDefaults fills in the keys left out of s, but for CAFile: those of
// DefaultRotatorConfig, and rotation on. RetryMax takes its default even
// below a longer RetryMin, which Validate then refuses.
func (s *Settings) SetDefaults() {
	d := DefaultRotatorConfig()
	confkeys.SetDefault(&s.Rotation, RotationOn)
	confkeys.SetDefault(&s.KeyAlgorithm, d.KeyAlg)
	confkeys.SetDefault(&s.RetryMin, d.RetryMin)
	confkeys.SetDefault(&s.RetryMax, d.RetryMax)
	confkeys.SetDefault(&s.TryTimeout, d.TryTimeout)
}

// Validate reports the first key of s (defaults filled in) that is wrong,
// as a *confkeys.FieldError at the key's path ("rotation") wrapping
// confkeys.ErrInvalid: a Rotation that is neither on nor off, a
// KeyAlgorithm NewKey does not make, or a RetryMax below RetryMin.
func (s Settings) Validate() error {
	switch {
	case s.Rotation != RotationOn && s.Rotation != RotationOff:
		return confkeys.Invalid("rotation", "%q: want on or off", s.Rotation)
	case s.KeyAlgorithm != AlgECDSAP256 && s.KeyAlgorithm != AlgRSA2048:
		return confkeys.Invalid("keyAlgorithm", "%q: want %s or %s", s.KeyAlgorithm, AlgECDSAP256, AlgRSA2048)
	case s.RetryMax < s.RetryMin:
		return confkeys.Invalid("retryMax", "%v is below retryMin %v", s.RetryMax, s.RetryMin)
	}
	return nil
}

// RotatorConfig returns the rotation's configuration of s: its key
// algorithm, its waits, and the roots read from CAFile, whose error is a
// *confkeys.FieldError at caFile. The caller sets the rest (the device,
// the store, the outbox, the uplink).
func (s Settings) RotatorConfig() (RotatorConfig, error) {
	roots, err := tlsfiles.CAPool(s.CAFile)
	if err != nil {
		return RotatorConfig{}, &confkeys.FieldError{Path: "caFile", Msg: err.Error(), Err: err}
	}
	return RotatorConfig{Roots: roots, KeyAlg: s.KeyAlgorithm, RetryMin: s.RetryMin, RetryMax: s.RetryMax, TryTimeout: s.TryTimeout}, nil
}
