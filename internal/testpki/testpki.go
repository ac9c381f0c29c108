// Package testpki makes certificate authorities and certificates for
// tests: a CA made in the test signs a server certificate for 127.0.0.1
// and client certificates for keys made here or on the device under test
// (a CSR's public key), so that TLS with client certificates runs for
// real, against kfake or any server the test starts.
//
//	ca := testpki.NewCA(t, "test CA")
//	server, _, _ := ca.Server(t)                  // 127.0.0.1, localhost
//	client, certPEM, keyPEM := ca.Client(t, "gw-0042")
//	leafPEM, serial := ca.Sign(t, csr.PublicKey, "gw-0042")
//	crl := ca.CRL(t, big.NewInt(1), revoked)      // DER, for a broker
//
// Keys are ECDSA P-256; serial numbers are random. Certificates are valid
// from a minute ago for 20 days (SignBetween chooses), the CA for a day
// either side.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// CA is a certificate authority made for a test.
type CA struct {
	// Cert is the CA's certificate, PEM its PEM encoding.
	Cert *x509.Certificate
	PEM  []byte
	// Pool holds Cert alone: a server's ClientCAs, a client's RootCAs.
	Pool *x509.CertPool
	key  crypto.Signer
}

// validity of the certificates a CA signs.
const validity = 20 * 24 * time.Hour

// NewCA makes a self-signed CA named cn; it fails the test on error.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(validity + 24*time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Cert: cert, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Pool: x509.NewCertPool(), key: key}
	ca.Pool.AddCert(cert)
	return ca
}

// Sign returns a client certificate (ExtKeyUsage ClientAuth) for pub
// with subject CN cn, as PEM, and its serial number.
func (ca *CA) Sign(t testing.TB, pub crypto.PublicKey, cn string) ([]byte, *big.Int) {
	t.Helper()
	return ca.sign(t, pub, cn, x509.ExtKeyUsageClientAuth, time.Now().Add(-time.Minute), time.Now().Add(validity))
}

// SignBetween is Sign for a certificate valid from notBefore to notAfter.
func (ca *CA) SignBetween(t testing.TB, pub crypto.PublicKey, cn string, notBefore, notAfter time.Time) ([]byte, *big.Int) {
	t.Helper()
	return ca.sign(t, pub, cn, x509.ExtKeyUsageClientAuth, notBefore, notAfter)
}

// Client returns a new key and a client certificate for it with CN cn:
// for crypto/tls, and as PEM (the key in PKCS #8), as a factory would
// provision them.
func (ca *CA) Client(t testing.TB, cn string) (pair tls.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	return ca.pair(t, cn, x509.ExtKeyUsageClientAuth, time.Now().Add(-time.Minute), time.Now().Add(validity))
}

// ClientBetween is Client for a certificate valid from notBefore to
// notAfter.
func (ca *CA) ClientBetween(t testing.TB, cn string, notBefore, notAfter time.Time) (pair tls.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	return ca.pair(t, cn, x509.ExtKeyUsageClientAuth, notBefore, notAfter)
}

// Server returns a new key and a server certificate for it, for
// 127.0.0.1, ::1 and localhost: for crypto/tls, and as PEM for a server
// that reads files.
func (ca *CA) Server(t testing.TB) (pair tls.Certificate, certPEM, keyPEM []byte) {
	t.Helper()
	return ca.pair(t, "127.0.0.1", x509.ExtKeyUsageServerAuth, time.Now().Add(-time.Minute), time.Now().Add(validity))
}

// CRL returns a certificate revocation list (DER) of entries, with CRL
// number number, signed by ca: valid from an hour ago until ca expires.
func (ca *CA) CRL(t testing.TB, number *big.Int, entries []x509.RevocationListEntry) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                time.Now().Add(-time.Hour),
		NextUpdate:                ca.Cert.NotAfter,
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// ServerConfig is a server's TLS configuration with server, requiring
// client certificates signed by ca.
func (ca *CA) ServerConfig(server tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{server}, ClientCAs: ca.Pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

// ClientConfig is a client's TLS configuration trusting ca, presenting
// client.
func (ca *CA) ClientConfig(client tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{client}, RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
}

func (ca *CA) pair(t testing.TB, cn string, usage x509.ExtKeyUsage, notBefore, notAfter time.Time) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key := newKey(t)
	certPEM, _ := ca.sign(t, key.Public(), cn, usage, notBefore, notAfter)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

func (ca *CA) sign(t testing.TB, pub crypto.PublicKey, cn string, usage x509.ExtKeyUsage, notBefore, notAfter time.Time) ([]byte, *big.Int) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), tmpl.SerialNumber
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// serial returns a random positive serial number, in 1..2^64, as CAs
// give.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}
