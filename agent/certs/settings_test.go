package certs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/certs"
	"github.com/iot-hub/agent/internal/confkeys"
	"github.com/iot-hub/agent/internal/testpki"
)

// TestSettings: the keys of the certificates section take their
// defaults, Validate refuses a wrong one as a *confkeys.FieldError at
// the key, and RotatorConfig carries them to the rotation with the
// roots of CAFile, or an error at caFile.
func TestSettings(t *testing.T) {
	var s certs.Settings
	s.SetDefaults()
	d := certs.DefaultRotatorConfig()
	if s.Rotation != certs.RotationOn || s.KeyAlgorithm != d.KeyAlg || s.CAFile != "" || s.RetryMin != d.RetryMin || s.RetryMax != d.RetryMax || s.TryTimeout != d.TryTimeout {
		t.Errorf("SetDefaults() = %+v; want rotation on, DefaultRotatorConfig's, and no caFile (the uplink's)", s)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("Validate(defaults) = %v; want nil", err)
	}
	for _, tt := range []struct {
		change    func(*certs.Settings)
		path, msg string
	}{
		{func(s *certs.Settings) { s.Rotation = "yes" }, "rotation", `"yes": want on or off`},
		{func(s *certs.Settings) { s.KeyAlgorithm = "ed25519" }, "keyAlgorithm", `"ed25519": want ecdsa-p256 or rsa-2048`},
		{func(s *certs.Settings) { s.RetryMin = 2 * time.Hour }, "retryMax", "1h0m0s is below retryMin 2h0m0s"},
	} {
		bad := s
		tt.change(&bad)
		err := bad.Validate()
		if e, ok := errors.AsType[*confkeys.FieldError](err); !ok || e.Path != tt.path || e.Msg != tt.msg || !errors.Is(err, confkeys.ErrInvalid) {
			t.Errorf("Validate(%+v) = %#v; want a *confkeys.FieldError at %s: %s", bad, err, tt.path, tt.msg)
		}
	}

	ca := testpki.NewCA(t, "issuing CA")
	s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	s.KeyAlgorithm, s.TryTimeout = certs.AlgRSA2048, time.Minute
	if err := os.WriteFile(s.CAFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := s.RotatorConfig()
	if err != nil || !rc.Roots.Equal(ca.Pool) || rc.KeyAlg != certs.AlgRSA2048 || rc.RetryMin != s.RetryMin || rc.RetryMax != s.RetryMax || rc.TryTimeout != time.Minute {
		t.Errorf("RotatorConfig() = %+v, %v; want the settings and the CA's roots", rc, err)
	}
	s.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	_, err = s.RotatorConfig()
	if e, ok := errors.AsType[*confkeys.FieldError](err); !ok || e.Path != "caFile" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RotatorConfig(a missing CA file) = %#v; want a *confkeys.FieldError at caFile wrapping the file's error", err)
	}
}
