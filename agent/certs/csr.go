package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
)

// NewCSR returns a PEM "CERTIFICATE REQUEST" signed by key, with subject
// CN deviceID. It carries no extensions: the CA decides key usages and
// lifetime. Only the public key leaves the device.
func NewCSR(key crypto.Signer, deviceID string) ([]byte, error) {
	if deviceID == "" {
		return nil, errors.New("certs: new CSR: empty device id")
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: deviceID},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("certs: new CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}
