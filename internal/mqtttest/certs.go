package mqtttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// testCerts is the PKI generated for one TLS broker.
type testCerts struct {
	caFile, serverCertFile, serverKeyFile, clientCertFile, clientKeyFile string

	caPool *x509.CertPool
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey // signs SignClientCert's certificates and the CRL
	server tls.Certificate
	client tls.Certificate

	revoked revocations
}

// writeTestCerts generates a CA, a server certificate for 127.0.0.1 and
// localhost and a client certificate with Common Name clientCN, all ECDSA
// P-256 and valid from an hour ago for a day, and writes them as PEM files
// to dir.
func writeTestCerts(dir, clientCN string) (*testCerts, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mqtttest CA", Organization: []string{"mqtttest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) ([]byte, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"mqtttest"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     dns,
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		return der, key, err
	}
	serverDER, serverKey, err := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth,
		[]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	if err != nil {
		return nil, err
	}
	clientDER, clientKey, err := leaf(3, clientCN, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, err
	}

	c := &testCerts{
		caFile:         filepath.Join(dir, "ca.pem"),
		serverCertFile: filepath.Join(dir, "server.pem"),
		serverKeyFile:  filepath.Join(dir, "server-key.pem"),
		clientCertFile: filepath.Join(dir, "client.pem"),
		clientKeyFile:  filepath.Join(dir, "client-key.pem"),
		caPool:         x509.NewCertPool(),
		caCert:         caCert,
		caKey:          caKey,
	}
	c.caPool.AddCert(caCert)
	if err := writePEM(c.caFile, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	if c.server, err = writePair(c.serverCertFile, c.serverKeyFile, serverDER, serverKey); err != nil {
		return nil, err
	}
	if c.client, err = writePair(c.clientCertFile, c.clientKeyFile, clientDER, clientKey); err != nil {
		return nil, err
	}
	return c, nil
}

// writePair writes a certificate and its PKCS #8 key as PEM and returns the
// pair for crypto/tls.
func writePair(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) (tls.Certificate, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certFile, keyFile)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pemBytes(typ, der), 0o600)
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// clientTLSConfig trusts the CA and presents the client certificate.
func (c *testCerts) clientTLSConfig() *tls.Config {
	return &tls.Config{
		RootCAs:      c.caPool,
		Certificates: []tls.Certificate{c.client},
		ServerName:   "127.0.0.1",
		MinVersion:   tls.VersionTLS12,
	}
}

// serverTLSConfig is the embedded broker's: TLS 1.2 minimum, and client
// certificates signed by the CA required or, without requireClientCert,
// verified when given; certificates revoked by Broker.Revoke are refused.
func (c *testCerts) serverTLSConfig(requireClientCert bool) *tls.Config {
	auth := tls.VerifyClientCertIfGiven
	if requireClientCert {
		auth = tls.RequireAndVerifyClientCert
	}
	return &tls.Config{
		Certificates:     []tls.Certificate{c.server},
		ClientCAs:        c.caPool,
		ClientAuth:       auth,
		MinVersion:       tls.VersionTLS12,
		VerifyConnection: c.revoked.verifyConnection,
	}
}
