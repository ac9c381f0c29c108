// Package certpool reads the CA bundles that the agent's TLS
// connections trust.
package certpool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load returns a pool of the PEM certificates in file. It fails when the
// file cannot be read or holds no PEM certificate.
func Load(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
