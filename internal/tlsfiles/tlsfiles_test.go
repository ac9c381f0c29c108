package tlsfiles_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iot-hub/agent/internal/testpki"
	"github.com/iot-hub/agent/internal/tlsfiles"
)

func TestCAPool(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "bundle CA")
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := tlsfiles.CAPool(good)
	if err != nil || !pool.Equal(ca.Pool) {
		t.Errorf("CAPool(a bundle of one CA) = %v; want the CA's pool", err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsfiles.CAPool(junk); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("CAPool(junk) = %v; want an error naming the lack of a PEM certificate", err)
	}
	if _, err := tlsfiles.CAPool(filepath.Join(dir, "missing.pem")); !os.IsNotExist(err) {
		t.Errorf("CAPool(a missing file) = %v; want not-exist", err)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "config CA")
	_, certPEM, keyPEM := ca.Client(t, "gw-1")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile, certFile, keyFile := write("ca.pem", ca.PEM), write("gw.pem", certPEM), write("gw.key", keyPEM)

	c, err := tlsfiles.Config(caFile, certFile, keyFile)
	if err != nil || !c.RootCAs.Equal(ca.Pool) || len(c.Certificates) != 1 || c.MinVersion < 0x0303 {
		t.Fatalf("Config(CA, pair) = %+v, %v; want the CA's pool, one certificate, TLS 1.2 at least", c, err)
	}
	if c, err := tlsfiles.Config("", "", ""); err != nil || c.RootCAs != nil || len(c.Certificates) != 0 {
		t.Errorf("Config of no files = %+v, %v; want the system's CAs and no certificate", c, err)
	}
	if _, err := tlsfiles.Config(write("junk.pem", []byte("junk")), "", ""); err == nil || !strings.HasPrefix(err.Error(), "CA bundle: ") {
		t.Errorf("Config(a junk CA bundle) = %v; want an error starting with the CA bundle", err)
	}
	_, err = tlsfiles.Config("", certFile, caFile)
	if err == nil || !strings.HasPrefix(err.Error(), "client certificate: ") {
		t.Errorf("Config(a certificate with the wrong key file) = %v; want an error starting with the client certificate", err)
	}
	if e, ok := errors.AsType[*tlsfiles.Error](err); !ok || !strings.HasPrefix(e.Name("--ca", "--cert").Error(), "--cert: ") {
		t.Errorf("Config's error %v named as --ca or --cert; want --cert", err)
	}
}
