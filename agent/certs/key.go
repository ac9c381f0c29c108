package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
)

// Key algorithms accepted by NewKey.
const (
	// AlgECDSAP256 is ECDSA on NIST P-256, the default.
	AlgECDSAP256 = "ecdsa-p256"
	// AlgRSA2048 is RSA with a 2048-bit modulus, for CAs that want RSA.
	AlgRSA2048 = "rsa-2048"
)

// NewKey makes a private key with alg: AlgECDSAP256 (also for "") or
// AlgRSA2048; anything else is ErrUnknownAlg. The key comes from
// crypto/rand. The returned signer prints as "[private key redacted]"
// with fmt and log/slog, so a stray log line cannot leak it.
func NewKey(alg string) (crypto.Signer, error) {
	if err := checkAlg(alg); err != nil {
		return nil, fmt.Errorf("certs: new key: %w", err)
	}
	var k crypto.Signer
	var err error
	if alg == AlgRSA2048 {
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("certs: new key: %w", err)
	}
	return redact(k), nil
}

// checkAlg returns ErrUnknownAlg, wrapped, for an alg NewKey does not
// take, and nil for one it does: a check that makes no key, and the one
// list of the algorithms.
func checkAlg(alg string) error {
	switch alg {
	case "", AlgECDSAP256, AlgRSA2048:
		return nil
	}
	return fmt.Errorf("%w %q (want %q or %q)", ErrUnknownAlg, alg, AlgECDSAP256, AlgRSA2048)
}

const redacted = "[private key redacted]"

// privateKey hides a signer from fmt and log/slog: an *ecdsa.PrivateKey
// printed with %v shows its secret scalar.
type privateKey struct{ s crypto.Signer }

// redact wraps s once.
func redact(s crypto.Signer) crypto.Signer {
	if _, ok := s.(privateKey); ok {
		return s
	}
	return privateKey{s}
}

// unwrap returns the standard library key inside s, for marshalling.
func unwrap(s crypto.Signer) crypto.Signer {
	if k, ok := s.(privateKey); ok {
		return k.s
	}
	return s
}

func (k privateKey) Public() crypto.PublicKey { return k.s.Public() }

func (k privateKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.s.Sign(r, digest, opts)
}

func (k privateKey) String() string             { return redacted }
func (k privateKey) GoString() string           { return redacted }
func (k privateKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }
func (k privateKey) LogValue() slog.Value       { return slog.StringValue(redacted) }

// sameKey reports whether public key a equals b.
func sameKey(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}
