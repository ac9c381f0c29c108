package broker

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"

	"github.com/iot-hub/agent/internal/confkeys"
	"github.com/iot-hub/agent/internal/tlsfiles"
)

// TLS has the broker's listener serve TLS (1.2 at least), and, with
// ClientCAFile, ask every client for a certificate. The files are PEM,
// read when the broker starts: a new certificate takes a restart.
type TLS struct {
	// CertFile and KeyFile are the broker's certificate (its chain, leaf
	// first) and private key. Setting them turns TLS on. Default: none,
	// plain MQTT.
	CertFile string `yaml:"certFile,omitempty"`
	// KeyFile: see CertFile. It is never logged, nor is anything read
	// from it.
	KeyFile string `yaml:"keyFile,omitempty"`
	// ClientCAFile is a bundle of the CAs that clients' certificates must
	// chain to: with it, a client without such a certificate fails the
	// TLS handshake, whether it then logs in by password or is a
	// certificate user (User.CertificateCN). Default: none, clients
	// present no certificate.
	ClientCAFile string `yaml:"clientCAFile,omitempty"`
}

// enabled reports whether the listener serves TLS.
func (t TLS) enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.ClientCAFile != "" }

// validate reports a key of t missing beside another, as a
// *confkeys.FieldError at it ("tls.keyFile").
func (t TLS) validate() error {
	switch {
	case t.CertFile == "" && t.enabled():
		return confkeys.Invalid("tls.certFile", "required with keyFile or clientCAFile: the broker's certificate, to serve TLS")
	case t.KeyFile == "" && t.enabled():
		return confkeys.Invalid("tls.keyFile", "required with certFile: the key of the broker's certificate")
	}
	return nil
}

// TLSConfig returns the listener's TLS configuration, its files read: nil
// when s.TLS is not set. An error is a *confkeys.FieldError at the key of
// the file that cannot be read or is wrong ("tls.keyFile").
func (s Settings) TLSConfig() (*tls.Config, error) {
	t := s.TLS
	if !t.enabled() {
		return nil, nil
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(t.CertFile)
	if err != nil {
		return nil, &confkeys.FieldError{Path: "tls.certFile", Msg: err.Error(), Err: err}
	}
	if !x509.NewCertPool().AppendCertsFromPEM(certPEM) {
		return nil, confkeys.Invalid("tls.certFile", "%s holds no PEM certificate", t.CertFile)
	}
	keyPEM, err := os.ReadFile(t.KeyFile)
	if err != nil {
		return nil, &confkeys.FieldError{Path: "tls.keyFile", Msg: err.Error(), Err: err}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, confkeys.Invalid("tls.keyFile", "not the key of certFile %s: %v", t.CertFile, err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if t.ClientCAFile != "" {
		if c.ClientCAs, err = tlsfiles.CAPool(t.ClientCAFile); err != nil {
			return nil, &confkeys.FieldError{Path: "tls.clientCAFile", Msg: err.Error(), Err: err}
		}
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// verifiedCN returns the Subject Common Name of the certificate the
// client of conn presented, when the TLS handshake verified it against
// the ClientCAFile.
func verifiedCN(conn net.Conn) (string, bool) {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return "", false
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 {
		return "", false
	}
	return st.PeerCertificates[0].Subject.CommonName, true
}
