package certs

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// A pair file holds a certificate chain and its key in one PEM file,
// the CERTIFICATE blocks (leaf first) then one PRIVATE KEY (PKCS #8):
// the same layout as a combined PEM for haproxy, readable by
// `openssl x509 -in`. The key comes last, so a file cut short anywhere
// has lost its key and is refused.

const keyBlock = "PRIVATE KEY"

// encodeKey returns key as a PEM PKCS #8 block.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(unwrap(key))
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: keyBlock, Bytes: der}), nil
}

// decodeKey parses a pending-key file: exactly one PRIVATE KEY block.
// Errors wrap ErrCorrupt and never quote the data.
func decodeKey(data []byte) (crypto.Signer, error) {
	b, rest := pem.Decode(data)
	if b == nil || b.Type != keyBlock {
		return nil, fmt.Errorf("%w: no %s block", ErrCorrupt, keyBlock)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the key", ErrCorrupt)
	}
	return parseKey(b.Bytes)
}

// parseKey parses PKCS #8 DER into a redacted signer.
func parseKey(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		// The parser's message does not include key bytes.
		return nil, fmt.Errorf("%w: key: %w", ErrCorrupt, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key of type %T cannot sign", ErrCorrupt, k)
	}
	return redact(s), nil
}

// encodePair returns the pair file for chain (DER, leaf first) and key.
func encodePair(chain [][]byte, key crypto.Signer) ([]byte, error) {
	var buf bytes.Buffer
	for _, der := range chain {
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
			return nil, err
		}
	}
	k, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	buf.Write(k)
	return buf.Bytes(), nil
}

// decodePair parses a pair file strictly: certificates, then one key that
// matches the leaf, then nothing but white space. Errors wrap ErrCorrupt.
func decodePair(data []byte) (tls.Certificate, *x509.Certificate, error) {
	var (
		chain [][]byte
		key   crypto.Signer
	)
	for {
		b, rest := pem.Decode(data)
		if b == nil {
			break
		}
		data = rest
		switch {
		case key != nil:
			return tls.Certificate{}, nil, fmt.Errorf("%w: %s block after the key", ErrCorrupt, b.Type)
		case b.Type == "CERTIFICATE":
			chain = append(chain, b.Bytes)
		case b.Type == keyBlock:
			k, err := parseKey(b.Bytes)
			if err != nil {
				return tls.Certificate{}, nil, err
			}
			key = k
		default:
			return tls.Certificate{}, nil, fmt.Errorf("%w: unexpected %s block", ErrCorrupt, b.Type)
		}
	}
	if len(bytes.TrimSpace(data)) != 0 {
		return tls.Certificate{}, nil, fmt.Errorf("%w: %d bytes of garbage or a cut-off block at the end", ErrCorrupt, len(data))
	}
	if len(chain) == 0 {
		return tls.Certificate{}, nil, fmt.Errorf("%w: no certificate", ErrCorrupt)
	}
	if key == nil {
		return tls.Certificate{}, nil, fmt.Errorf("%w: no private key (file cut short?)", ErrCorrupt)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("%w: certificate: %w", ErrCorrupt, err)
	}
	if !sameKey(key.Public(), leaf.PublicKey) {
		return tls.Certificate{}, nil, fmt.Errorf("%w: the key does not match the certificate", ErrCorrupt)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, leaf, nil
}
