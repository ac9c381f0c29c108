package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"
)

func TestNewKey(t *testing.T) {
	for _, alg := range []string{"", AlgECDSAP256, AlgRSA2048} {
		t.Run(alg, func(t *testing.T) {
			k, err := NewKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			switch pub := k.Public().(type) {
			case *ecdsa.PublicKey:
				if alg == AlgRSA2048 || pub.Curve != elliptic.P256() {
					t.Errorf("NewKey(%q) = ECDSA on %v", alg, pub.Curve.Params().Name)
				}
			case *rsa.PublicKey:
				if alg != AlgRSA2048 || pub.N.BitLen() != 2048 {
					t.Errorf("NewKey(%q) = RSA-%d", alg, pub.N.BitLen())
				}
			default:
				t.Errorf("NewKey(%q) = %T", alg, pub)
			}
		})
	}
	if _, err := NewKey("ed25519"); !errors.Is(err, ErrUnknownAlg) || !strings.Contains(err.Error(), `"ed25519"`) {
		t.Errorf(`NewKey("ed25519") = %v; want %v naming it`, err, ErrUnknownAlg)
	}
}

// TestKeyRedacted: printing a key, with fmt or slog, shows no secret.
func TestKeyRedacted(t *testing.T) {
	k := mustKey(t, AlgECDSAP256)
	raw, err := unwrap(k).(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d := new(big.Int).SetBytes(raw).String() // as %v of the bare key shows it
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("rotating", "key", k)
	log.Info("rotating", slog.Any("key", k))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		fmt.Fprintf(&buf, verb+"\n", k)
	}
	fmt.Fprintln(&buf, k, []any{k}, struct{ K any }{k})
	out := buf.String()
	if strings.Contains(out, d) || strings.Contains(out, fmt.Sprintf("%x", raw)) || strings.Count(out, redacted) != 11 {
		t.Errorf("printed key:\n%s\nwant only %q, 11 times", out, redacted)
	}
}
