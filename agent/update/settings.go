package update

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/iot-hub/agent/internal/confkeys"
)

// Settings are the keys of the update section of the agent's
// configuration file: updateAgent is off until PublicKey pins the key the
// releases are signed with.
type Settings struct {
	// PublicKey is the ed25519 public key, base64 (32 bytes), whose
	// signature a new binary must carry. Default none: updateAgent off.
	PublicKey string `yaml:"publicKey"`
	// MaxBytes bounds a download. Default 64MiB; 1MiB to 1GiB.
	MaxBytes confkeys.Size `yaml:"maxBytes" limit:"1MiB..1GiB"`
	// CAFile, when set, holds the CAs (PEM) the download's server must
	// chain to, instead of the system's.
	CAFile string `yaml:"caFile"`
}

// DefaultMaxBytes is the default of Settings.MaxBytes.
const DefaultMaxBytes = 64 << 20

// ErrInvalidConfig is returned for Settings that are wrong.
var ErrInvalidConfig = errors.New("invalid update configuration")

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.MaxBytes, DefaultMaxBytes)
}

// Enabled reports whether updateAgent is on: a key is pinned.
func (s Settings) Enabled() bool { return s.PublicKey != "" }

// Key returns the pinned public key.
func (s Settings) Key() (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s.PublicKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, &confkeys.FieldError{Path: "publicKey", Msg: fmt.Sprintf("want an ed25519 public key, %d bytes in base64", ed25519.PublicKeySize), Err: ErrInvalidConfig}
	}
	return ed25519.PublicKey(b), nil
}

// Validate reports the first key of s (defaults filled in) that is wrong.
func (s Settings) Validate() error {
	if s.Enabled() {
		if _, err := s.Key(); err != nil {
			return err
		}
	}
	if s.MaxBytes < confkeys.MiB || s.MaxBytes > confkeys.GiB {
		return &confkeys.FieldError{Path: "maxBytes", Msg: fmt.Sprintf("%d is outside 1MiB..1GiB", int64(s.MaxBytes)), Err: ErrInvalidConfig}
	}
	return nil
}

// Client returns the HTTP client of the downloads: HTTPS only, to a
// server chaining to CAFile's CAs or the system's.
func (s Settings) Client() (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, &confkeys.FieldError{Path: "caFile", Msg: err.Error(), Err: ErrInvalidConfig}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &confkeys.FieldError{Path: "caFile", Msg: "no PEM certificate in " + s.CAFile, Err: ErrInvalidConfig}
		}
		cfg.RootCAs = pool
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, TLSHandshakeTimeout: 30 * time.Second,
		ResponseHeaderTimeout: time.Minute, Proxy: http.ProxyFromEnvironment}}, nil
}
