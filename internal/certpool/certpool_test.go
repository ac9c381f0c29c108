package certpool_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iot-hub/agent/internal/certpool"
	"github.com/iot-hub/agent/internal/testpki"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "bundle CA")
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := certpool.Load(good)
	if err != nil || !pool.Equal(ca.Pool) {
		t.Errorf("Load(a bundle of one CA) = %v; want the CA's pool", err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := certpool.Load(junk); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("Load(junk) = %v; want an error naming the lack of a PEM certificate", err)
	}
	if _, err := certpool.Load(filepath.Join(dir, "missing.pem")); !os.IsNotExist(err) {
		t.Errorf("Load(a missing file) = %v; want not-exist", err)
	}
}
