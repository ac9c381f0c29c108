package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Probe connects to the brokers afresh, presenting cert as the client
// certificate, and asks them for the cluster's metadata: it reports
// whether they accept cert (TLS, then SASL if configured), by the time
// ctx ends. The uplink's own connections are left alone; they take their
// client certificate from Config.TLS (its GetClientCertificate, when a
// rotation sets it) whenever they connect. A certificate rotation tries a
// new certificate this way before it makes it current.
func (u *Uplink) Probe(ctx context.Context, cert *tls.Certificate) error {
	if u.cfg.TLS == nil {
		return errors.New("kafka: probe: the uplink does not use TLS")
	}
	tc := u.cfg.TLS.Clone()
	tc.Certificates = nil
	tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	// Without the uplink's hooks: the probe's connections are not the
	// uplink's state.
	cl, err := kgo.NewClient(u.connOpts(tc)...)
	if err != nil {
		return fmt.Errorf("kafka: probe: %w", err)
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: probe: the brokers refuse the connection: %w", err)
	}
	return nil
}
