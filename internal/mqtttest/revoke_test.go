package mqtttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestSignAndRevoke(t *testing.T) {
	t.Parallel()
	checkSignAndRevoke(t, Start(t, Options{RequireClientCert: true, ClientCN: "gw-0042"}))
}

// checkSignAndRevoke: certificates of SignClientCert connect, revoked ones
// do not, revocations accumulate, and the helper clients (with the
// broker's own client certificate) carry on.
func checkSignAndRevoke(t *testing.T, b *Broker) {
	t.Helper()
	sub := b.Subscribe(t, "revoke/#", 1)
	a, serialA := signedPair(t, b, "gw-a")
	c, serialC := signedPair(t, b, "gw-c")
	if serialA.Cmp(serialC) == 0 {
		t.Fatalf("two certificates with serial %v; want random serials", serialA)
	}
	if a.Leaf.Subject.CommonName != "gw-a" || len(a.Leaf.ExtKeyUsage) != 1 || a.Leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("signed certificate: CN %q, extended key usage %v; want gw-a, ClientAuth", a.Leaf.Subject.CommonName, a.Leaf.ExtKeyUsage)
	}
	if _, err := a.Leaf.Verify(x509.VerifyOptions{Roots: b.CAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("signed certificate does not chain to CAPool: %v", err)
	}

	connects := func(what string, cert tls.Certificate, want bool) {
		t.Helper()
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			cfg := b.TLSConfig()
			cfg.Certificates = []tls.Certificate{cert}
			cfg.MinVersion, cfg.MaxVersion = v, v
			err := mqttConnect(b, cfg)
			if want && err != nil {
				t.Errorf("%s over %s: %v; want connected", what, tls.VersionName(v), err)
			}
			if !want && err == nil {
				t.Errorf("%s over %s connected; want refused", what, tls.VersionName(v))
			}
		}
	}
	connects("certificate A", a, true)
	connects("certificate C", c, true)

	b.Revoke(t, serialC)
	connects("revoked certificate C", c, false)
	connects("certificate A after C was revoked", a, true)

	b.Revoke(t, serialA)
	connects("revoked certificate A", a, false)
	connects("certificate C, revoked earlier", c, false)

	b.Publish(t, "revoke/1", []byte("still here"), 1, false, nil)
	if msgs := sub.WaitFor(t, 1, wait); string(msgs[0].Payload) != "still here" {
		t.Errorf("after Revoke the subscriber got %+v", msgs)
	}
}

// signedPair makes a key and a client certificate for it with Common Name
// cn from b's CA.
func signedPair(t *testing.T, b *Broker, cn string) (tls.Certificate, *big.Int) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	certPEM, serial := b.SignClientCert(t, &key.PublicKey, cn, now.Add(-time.Hour), now.Add(time.Hour))
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, pemBytes("PRIVATE KEY", keyDER))
	if err != nil {
		t.Fatalf("SignClientCert's PEM: %v", err)
	}
	if pair.Leaf.SerialNumber.Cmp(serial) != 0 {
		t.Errorf("SignClientCert serial %v; the certificate has %v", serial, pair.Leaf.SerialNumber)
	}
	return pair, serial
}

// TestSignAndRevokeNeedTLS: on a broker without TLS, or without client
// certificates for Revoke, they fail the test saying why.
func TestSignAndRevokeNeedTLS(t *testing.T) {
	t.Parallel()
	plain := Start(t, Options{})
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := fatalMessage(t, func(tb testing.TB) {
		plain.SignClientCert(tb, &key.PublicKey, "x", time.Now(), time.Now().Add(time.Hour))
	})
	if !strings.Contains(msg, "Options.TLS") {
		t.Errorf("SignClientCert without TLS: %q; want it to name Options.TLS", msg)
	}
	tlsOnly := Start(t, Options{TLS: true})
	msg = fatalMessage(t, func(tb testing.TB) { tlsOnly.Revoke(tb, big.NewInt(3)) })
	if !strings.Contains(msg, "Options.RequireClientCert") {
		t.Errorf("Revoke without RequireClientCert: %q; want it to name Options.RequireClientCert", msg)
	}
}
