package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any leaves a goroutine behind: a
// rotator's Run among them.
func TestMain(m *testing.M) {
	if code, served := servePowerCut(); served {
		os.Exit(code) // TestPowerCutPromote's filesystem, or its child
	}
	goleak.VerifyTestMain(m)
}

// t0 is the tests' "now".
var t0 = time.Date(2026, 11, 27, 10, 15, 30, 0, time.UTC)

// testCA is a certificate authority made in the test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var serial int64 = 100

func nextSerial() *big.Int { serial++; return big.NewInt(serial) }

func newECKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newRoot makes a self-signed root CA.
func newRoot(t *testing.T, cn string) *testCA {
	t.Helper()
	return newCA(t, cn, 10*365*24*time.Hour, nil)
}

// intermediate makes a CA signed by ca.
func (ca *testCA) intermediate(t *testing.T, cn string) *testCA {
	t.Helper()
	return newCA(t, cn, 5*365*24*time.Hour, ca)
}

// newCA makes a CA valid for life, signed by parent (self-signed when
// nil).
func newCA(t *testing.T, cn string, life time.Duration, parent *testCA) *testCA {
	t.Helper()
	key := newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             t0.Add(-24 * time.Hour),
		NotAfter:              t0.Add(life),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	return &testCA{cert: sign(t, tmpl, issuer, key.Public(), signer), key: key}
}

// leafOpts shape a leaf; zero values mean a good client certificate.
type leafOpts struct {
	cn        string
	notBefore time.Time
	notAfter  time.Time
	eku       []x509.ExtKeyUsage
	dns       []string
}

// issue returns a PEM leaf for pub signed by ca, followed by chain.
func (ca *testCA) issue(t *testing.T, pub crypto.PublicKey, o leafOpts, chain ...*testCA) []byte {
	t.Helper()
	if o.notBefore.IsZero() {
		o.notBefore = t0.Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = t0.Add(90 * 24 * time.Hour)
	}
	if o.eku == nil {
		o.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: o.cn},
		NotBefore:    o.notBefore,
		NotAfter:     o.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  o.eku,
		DNSNames:     o.dns,
	}
	c := sign(t, tmpl, ca.cert, pub, ca.key)
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	for _, ch := range chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ch.cert.Raw})...)
	}
	return out
}

func sign(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pool(cas ...*testCA) *x509.CertPool {
	p := x509.NewCertPool()
	for _, ca := range cas {
		p.AddCert(ca.cert)
	}
	return p
}

// mustKey returns a new redacted key of alg.
func mustKey(t *testing.T, alg string) crypto.Signer {
	t.Helper()
	k, err := NewKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// openStore opens a store in a new temporary directory.
func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir() + "/certs")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pair is a key and a certificate for it, as PEM.
type pair struct {
	key crypto.Signer
	pem []byte
}

// newPair issues a good pair for device "gw-0042" from ca.
func newPair(t *testing.T, ca *testCA) pair {
	t.Helper()
	k := mustKey(t, AlgECDSAP256)
	return pair{key: k, pem: ca.issue(t, k.Public(), leafOpts{cn: "gw-0042"})}
}

// pemSerial returns the leaf serial of a PEM chain.
func pemSerial(t *testing.T, p pair) string {
	t.Helper()
	chain, err := parseChain(p.pem)
	if err != nil {
		t.Fatal(err)
	}
	return chain[0].SerialNumber.String()
}
