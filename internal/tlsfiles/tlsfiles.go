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
// empty). Its error is an [*Error] saying which of the two failed.
func Config(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := CAPool(caFile)
		if err != nil {
			return nil, &Error{Pair: false, Err: err}
		}
		c.RootCAs = pool
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, &Error{Pair: true, Err: err}
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// Error is Config's error: the CA bundle or the client pair (Pair)
// could not be read. Callers name their own setting with Err.
type Error struct {
	Pair bool
	Err  error
}

func (e *Error) Error() string {
	if e.Pair {
		return "client certificate: " + e.Err.Error()
	}
	return "CA bundle: " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Name returns the error as setting names it: caName's for the CA bundle,
// pairName's for the pair ("--ca: open ca.pem: ...").
func (e *Error) Name(caName, pairName string) error {
	if e.Pair {
		return fmt.Errorf("%s: %w", pairName, e.Err)
	}
	return fmt.Errorf("%s: %w", caName, e.Err)
}
