package mqtttest

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// SignClientCert returns a client certificate for pub with Common Name cn,
// valid from notBefore to notAfter, signed by the broker's test CA (key
// usage DigitalSignature, extended key usage ClientAuth), as PEM, and its
// serial number, which is random. It fails the test when the broker has no
// TLS ([Options.TLS]) or signing fails.
func (b *Broker) SignClientCert(t testing.TB, pub crypto.PublicKey, cn string, notBefore, notAfter time.Time) (certPEM []byte, serial *big.Int) {
	t.Helper()
	if b.certs == nil {
		t.Fatalf("mqtttest: SignClientCert needs a broker started with Options.TLS")
	}
	return b.certs.ca.SignBetween(t, pub, cn, notBefore, notAfter)
}

// ClientCert returns a new key and a client certificate for it with
// Common Name cn, valid from notBefore to notAfter, signed by the
// broker's test CA: for crypto/tls (its Leaf set), and as PEM (the key in
// PKCS #8), as a factory would provision them. It fails the test when the
// broker has no TLS ([Options.TLS]).
func (b *Broker) ClientCert(t testing.TB, cn string, notBefore, notAfter time.Time) (pair tls.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	if b.certs == nil {
		t.Fatalf("mqtttest: ClientCert needs a broker started with Options.TLS")
	}
	return b.certs.ca.ClientBetween(t, cn, notBefore, notAfter)
}

// Revoke makes the broker refuse, from now on, client certificates with
// these serial numbers (of [Broker.SignClientCert] or the broker's own
// client certificate; revoking that one shuts out the helper clients of
// [Broker.Subscribe] and [Broker.Publish]). Revocations accumulate over
// calls. It needs [Options.RequireClientCert] and fails the test
// otherwise.
//
// mosquitto reads its CRL only when it starts, so Revoke writes the CRL
// ([Broker.CRLFile]), adds crlfile to the configuration and restarts a
// running broker as [Broker.Restart] does: on the same port, and every
// client is disconnected. The embedded broker, which checks the serials
// on every new TLS handshake, is restarted all the same, so that a test
// sees the same on either broker: every client connects again, and a
// revoked certificate is refused.
func (b *Broker) Revoke(t testing.TB, serials ...*big.Int) {
	t.Helper()
	if !b.opts.RequireClientCert {
		t.Fatalf("mqtttest: Revoke needs a broker started with Options.RequireClientCert")
	}
	b.certs.revoked.add(serials...)
	entries, number := b.certs.revoked.list()
	crl := b.certs.ca.CRL(t, number, entries)
	b.mu.Lock()
	running := b.proc != nil || b.mochi != nil
	err := b.writeCRL(crl)
	b.mu.Unlock()
	if err != nil {
		t.Fatalf("mqtttest: Revoke: %v", err)
	}
	if running {
		b.Restart(t)
	}
}

// CAPool returns a new pool holding the broker's test CA, which signed its
// server certificate and the client certificates; nil without TLS.
func (b *Broker) CAPool() *x509.CertPool {
	if b.certs == nil {
		return nil
	}
	return b.certs.ca.Pool.Clone()
}

// writeCRL writes crl to b.CRLFile and, for mosquitto, the configuration
// that reads it; b.mu is held.
func (b *Broker) writeCRL(crl []byte) error {
	b.CRLFile = filepath.Join(b.Dir, "crl.pem")
	if err := writePEM(b.CRLFile, "X509 CRL", crl); err != nil {
		return fmt.Errorf("writing the CRL: %w", err)
	}
	if b.embedded {
		return nil
	}
	_, portText, err := net.SplitHostPort(b.addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	return b.writeConfig(port)
}

// revocations are the serial numbers that Broker.Revoke revoked. Its
// methods are safe for concurrent use: the embedded broker checks it in
// its handshakes.
type revocations struct {
	mu      sync.Mutex
	entries []x509.RevocationListEntry
	number  int64 // of the CRL: one more for every add
}

// errRevoked is what the embedded broker refuses a revoked certificate
// with.
var errRevoked = errors.New("mqtttest: client certificate revoked")

func (r *revocations) add(serials ...*big.Int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.number++
	now := time.Now()
	for _, s := range serials {
		if !r.hasLocked(s) {
			r.entries = append(r.entries, x509.RevocationListEntry{SerialNumber: new(big.Int).Set(s), RevocationTime: now})
		}
	}
}

// list returns the entries and the CRL number.
func (r *revocations) list() ([]x509.RevocationListEntry, *big.Int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]x509.RevocationListEntry(nil), r.entries...), big.NewInt(r.number)
}

func (r *revocations) hasLocked(serial *big.Int) bool {
	for _, e := range r.entries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

// verifyConnection is the embedded broker's tls.Config.VerifyConnection:
// it refuses a revoked client certificate.
func (r *revocations) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := cs.PeerCertificates[0].SerialNumber; r.hasLocked(s) {
		return fmt.Errorf("%w: serial %s", errRevoked, s.Text(16))
	}
	return nil
}
