package certs

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// timeFormat shows certificate times in error messages.
const timeFormat = time.RFC3339

// Check decides whether certPEM, the certificate the backend issued for the
// pending key, may be installed. certPEM holds the leaf first, then any
// intermediates; nothing but CERTIFICATE blocks. Check refuses, in this
// order:
//
//   - ErrBadPEM: no certificate, a block of another type, or a
//     certificate that does not parse;
//   - ErrWrongKey: the leaf's public key is not pending's;
//   - ErrWrongSubject: the leaf's subject CN is not deviceID;
//   - ErrNotYetValid, ErrExpired: now is outside NotBefore..NotAfter;
//   - ErrUntrusted: the leaf does not chain to roots through the
//     intermediates in certPEM for client authentication (ExtKeyUsage
//     ClientAuth; a leaf without ExtKeyUsage is accepted, as crypto/x509
//     does);
//   - ErrTooShort: the leaf expires within renewWindow of now.
//
// Each error wraps its sentinel with a message naming what is wrong; none
// holds key material. On success Check returns the parsed leaf.
func Check(certPEM []byte, pending crypto.Signer, roots *x509.CertPool, deviceID string, now time.Time, renewWindow time.Duration) (*x509.Certificate, error) {
	chain, err := parseChain(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: check: %w", err)
	}
	leaf := chain[0]
	if !sameKey(pending.Public(), leaf.PublicKey) {
		return nil, fmt.Errorf("certs: check: %w: certificate serial %s is for another public key than the pending key", ErrWrongKey, leaf.SerialNumber)
	}
	if cn := leaf.Subject.CommonName; cn != deviceID {
		return nil, fmt.Errorf("certs: check: %w: subject CN is %q, want the device id %q", ErrWrongSubject, cn, deviceID)
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("certs: check: %w: valid from %s, now is %s (is the clock set?)", ErrNotYetValid, leaf.NotBefore.UTC().Format(timeFormat), now.UTC().Format(timeFormat))
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("certs: check: %w: expired at %s, now is %s", ErrExpired, leaf.NotAfter.UTC().Format(timeFormat), now.UTC().Format(timeFormat))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, fmt.Errorf("certs: check: %w: issuer %q: %w", ErrUntrusted, leaf.Issuer.CommonName, err)
	}
	if left := leaf.NotAfter.Sub(now); left <= renewWindow {
		return nil, fmt.Errorf("certs: check: %w: expires at %s, in %s, within the renewal window of %s", ErrTooShort, leaf.NotAfter.UTC().Format(timeFormat), left.Round(time.Second), renewWindow)
	}
	return leaf, nil
}

// parseChain parses PEM holding only CERTIFICATE blocks, leaf first. Text
// around blocks is ignored, as openssl does; errors wrap ErrBadPEM.
func parseChain(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: block %d is %q, want CERTIFICATE", ErrBadPEM, n, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: block %d: %w", ErrBadPEM, n, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE block", ErrBadPEM)
	}
	return chain, nil
}
