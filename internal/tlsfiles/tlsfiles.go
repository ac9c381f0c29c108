// Package tlsfiles reads the files the agent's TLS connections are made
// from: CA bundles, and client certificates with their keys.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// CAPool returns a pool of the PEM certificates in file. It fails when
// the file cannot be read or holds no PEM certificate.
func CAPool(file string) (*x509.CertPool, error) {
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

// Config returns a client's TLS configuration (1.2 at least) that trusts
// the CAs of caFile (the system's when it is empty) and presents the
// certificate of certFile with the key of keyFile (none when certFile is
// empty). Its errors say which of the two failed.
func Config(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := CAPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		c.RootCAs = pool
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}
