package mqtttest

import (
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/iot-hub/agent/internal/testpki"
)

// testCerts is the PKI of one TLS broker: a test CA (internal/testpki),
// the broker's certificate and the helper clients', also as PEM files
// for mosquitto and for the tests.
type testCerts struct {
	caFile, serverCertFile, serverKeyFile, clientCertFile, clientKeyFile string

	ca     *testpki.CA // signs SignClientCert's certificates and the CRL
	server tls.Certificate
	client tls.Certificate

	revoked revocations
}

// writeTestCerts makes a CA, a server certificate for 127.0.0.1 and
// localhost and a client certificate with Common Name clientCN, and
// writes them as PEM files to dir. It fails the test on error.
func writeTestCerts(t testing.TB, dir, clientCN string) *testCerts {
	t.Helper()
	c := &testCerts{
		caFile:         filepath.Join(dir, "ca.pem"),
		serverCertFile: filepath.Join(dir, "server.pem"),
		serverKeyFile:  filepath.Join(dir, "server-key.pem"),
		clientCertFile: filepath.Join(dir, "client.pem"),
		clientKeyFile:  filepath.Join(dir, "client-key.pem"),
		ca:             testpki.NewCA(t, "mqtttest CA"),
	}
	var serverCert, serverKey, clientCert, clientKey []byte
	c.server, serverCert, serverKey = c.ca.Server(t)
	c.client, clientCert, clientKey = c.ca.Client(t, clientCN)
	for path, data := range map[string][]byte{
		c.caFile: c.ca.PEM, c.serverCertFile: serverCert, c.serverKeyFile: serverKey,
		c.clientCertFile: clientCert, c.clientKeyFile: clientKey,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatalf("mqtttest: writing the TLS certificates: %v", err)
		}
	}
	return c
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pemBytes(typ, der), 0o600)
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// clientTLSConfig trusts the CA and presents the client certificate.
func (c *testCerts) clientTLSConfig() *tls.Config {
	cfg := c.ca.ClientConfig(c.client)
	cfg.ServerName = "127.0.0.1"
	return cfg
}

// serverTLSConfig is the embedded broker's: TLS 1.2 minimum, and client
// certificates signed by the CA required or, without requireClientCert,
// not asked for, as mosquitto with require_certificate false does not;
// certificates revoked by Broker.Revoke are refused.
func (c *testCerts) serverTLSConfig(requireClientCert bool) *tls.Config {
	cfg := c.ca.ServerConfig(c.server)
	if !requireClientCert {
		cfg.ClientAuth = tls.NoClientCert
	}
	cfg.VerifyConnection = c.revoked.verifyConnection
	return cfg
}
