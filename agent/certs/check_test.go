package certs

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	const dev = "gw-0042"
	root := newRoot(t, "root")
	inter := root.intermediate(t, "issuing")
	other := newRoot(t, "other")
	key := mustKey(t, AlgECDSAP256)
	otherKey := mustKey(t, AlgECDSAP256)
	roots := pool(root)
	week := 7 * 24 * time.Hour
	good := leafOpts{cn: dev}
	rsaKey := mustKey(t, AlgRSA2048)

	tests := []struct {
		name    string
		pem     []byte
		want    error         // nil: accepted
		wantMsg string        // part of the message
		key     crypto.Signer // nil: key
	}{
		{"good", root.issue(t, key.Public(), good), nil, "", nil},
		{"good with intermediate", inter.issue(t, key.Public(), good, inter), nil, "", nil},
		{"good RSA key", root.issue(t, rsaKey.Public(), good), nil, "", rsaKey},
		{"garbage", []byte("hello, not PEM"), ErrBadPEM, "no CERTIFICATE block", nil},
		{"empty", nil, ErrBadPEM, "no CERTIFICATE block", nil},
		{"key block", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), ErrBadPEM, `block 1 is "PRIVATE KEY"`, nil},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), ErrBadPEM, "block 1", nil},
		{"wrong key", root.issue(t, otherKey.Public(), good), ErrWrongKey, "another public key", nil},
		{"wrong CA", other.issue(t, key.Public(), good), ErrUntrusted, `issuer "other"`, nil},
		{"missing intermediate", inter.issue(t, key.Public(), good), ErrUntrusted, `issuer "issuing"`, nil},
		{"server auth only", root.issue(t, key.Public(), leafOpts{cn: dev, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), ErrUntrusted, "usage", nil},
		{"wrong CN", root.issue(t, key.Public(), leafOpts{cn: "gw-0043"}), ErrWrongSubject, `CN is "gw-0043", want the device id "gw-0042"`, nil},
		{"expired", root.issue(t, key.Public(), leafOpts{cn: dev, notBefore: t0.Add(-90 * 24 * time.Hour), notAfter: t0.Add(-time.Hour)}), ErrExpired, "expired at 2026-11-27T09:15:30Z", nil},
		{"not yet valid", root.issue(t, key.Public(), leafOpts{cn: dev, notBefore: t0.Add(time.Hour)}), ErrNotYetValid, "valid from 2026-11-27T11:15:30Z", nil},
		{"too short", root.issue(t, key.Public(), leafOpts{cn: dev, notAfter: t0.Add(6 * 24 * time.Hour)}), ErrTooShort, "within the renewal window of 168h0m0s", nil},
		{"exactly the window", root.issue(t, key.Public(), leafOpts{cn: dev, notAfter: t0.Add(week)}), ErrTooShort, "in 168h0m0s", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := key
			if tt.key != nil {
				k = tt.key
			}
			leaf, err := Check(tt.pem, k, roots, dev, t0, week)
			if tt.want == nil {
				if err != nil || leaf == nil || leaf.Subject.CommonName != dev {
					t.Fatalf("Check(%s) = %v, %v; want the leaf, nil", tt.name, leaf, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check(%s) = %v; want %v", tt.name, err, tt.want)
			}
			if leaf != nil {
				t.Errorf("Check(%s) returned a leaf with error %v", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "certs: check: ") {
				t.Errorf("Check(%s) error %q; want it to start with %q and contain %q", tt.name, err, "certs: check: ", tt.wantMsg)
			}
			// Exactly one sentinel per refusal.
			for _, s := range []error{ErrBadPEM, ErrWrongKey, ErrWrongSubject, ErrNotYetValid, ErrExpired, ErrUntrusted, ErrTooShort} {
				if s != tt.want && errors.Is(err, s) {
					t.Errorf("Check(%s) = %v; also matches %v", tt.name, err, s)
				}
			}
		})
	}
}

func TestNewCSR(t *testing.T) {
	for _, alg := range []string{AlgECDSAP256, AlgRSA2048} {
		t.Run(alg, func(t *testing.T) {
			key := mustKey(t, alg)
			data, err := NewCSR(key, "gw-0042")
			if err != nil {
				t.Fatal(err)
			}
			b, rest := pem.Decode(data)
			if b == nil || b.Type != "CERTIFICATE REQUEST" || len(rest) != 0 {
				t.Fatalf("NewCSR = %q; want one CERTIFICATE REQUEST block", data)
			}
			csr, err := x509.ParseCertificateRequest(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Errorf("CSR signature: %v", err)
			}
			if csr.Subject.CommonName != "gw-0042" {
				t.Errorf("CSR CN = %q; want %q", csr.Subject.CommonName, "gw-0042")
			}
			if !sameKey(key.Public(), csr.PublicKey) {
				t.Error("CSR public key is not the key's")
			}
		})
	}
	if _, err := NewCSR(mustKey(t, ""), ""); err == nil {
		t.Error(`NewCSR(key, "") = nil error; want one`)
	}
}
