package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
)

// CertSource gives the client certificate to present on a new TLS
// connection. It is called once per connection attempt (when the broker
// asks for a client certificate, as one that requires them does), from
// the uplink's connecting goroutine, so it must be safe for use
// concurrent with whatever swaps its certificate. A nil certificate with a
// nil error presents none; an error fails the attempt, which is retried.
type CertSource interface {
	ClientCertificate() (*tls.Certificate, error)
}

// presented records the client certificate one connection attempt
// presented in its TLS handshake.
type presented struct {
	mu   sync.Mutex
	leaf *x509.Certificate
}

// getClientCertificate is the tls.Config.GetClientCertificate of one
// attempt. It takes the certificate from src or, when src is nil, the
// first of static that the broker accepts, as crypto/tls does without the
// callback; it records the leaf of what it returns.
func (p *presented) getClientCertificate(src CertSource, static []tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		cert, err := chooseCertificate(cri, src, static)
		if err != nil {
			return nil, err
		}
		leaf, err := leafOf(cert)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.leaf = leaf
		p.mu.Unlock()
		return cert, nil
	}
}

// get returns the leaf recorded, nil when the attempt presented none (or
// the broker asked for none).
func (p *presented) get() *x509.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaf
}

// chooseCertificate returns the certificate to present; an empty one
// presents none.
func chooseCertificate(cri *tls.CertificateRequestInfo, src CertSource, static []tls.Certificate) (*tls.Certificate, error) {
	if src == nil {
		for i := range static {
			if cri.SupportsCertificate(&static[i]) == nil {
				return &static[i], nil
			}
		}
		return new(tls.Certificate), nil
	}
	cert, err := src.ClientCertificate()
	if err != nil {
		return nil, fmt.Errorf("mqtt: client certificate source: %w", err)
	}
	if cert == nil {
		return new(tls.Certificate), nil
	}
	return cert, nil
}

// leafOf returns the parsed leaf of c (c.Leaf when set); nil when c holds
// no certificate.
func leafOf(c *tls.Certificate) (*x509.Certificate, error) {
	if len(c.Certificate) == 0 {
		return nil, nil
	}
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("mqtt: client certificate: parse the leaf: %w", err)
	}
	return leaf, nil
}
