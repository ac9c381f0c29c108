package certs

import (
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
)

// Import makes the pair in certFile and keyFile (PEM, as a factory or an
// operator provisions them; the key in PKCS #8, PKCS #1 or SEC 1) the
// current pair, when the store has none yet. It reports whether it did:
// once the store has a current pair (imported, or renewed since), the
// files are no longer read, and a rotation never writes them.
//
// keyFile must pass the checks CheckPermissions makes of a key (mode
// 0600, owned by the agent's user), as the store's own files do.
func (s *Store) Import(certFile, keyFile string) (bool, error) {
	if _, _, err := s.Current(); !errors.Is(err, ErrNotFound) {
		return false, err // nil when there is a current pair
	}
	info, err := os.Lstat(keyFile)
	if err != nil {
		return false, fmt.Errorf("certs: import: %w", err)
	}
	if err := checkOne(keyFile, info); err != nil {
		return false, fmt.Errorf("certs: import: %w", err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return false, fmt.Errorf("certs: import: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return false, fmt.Errorf("certs: import: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls names what is wrong and quotes no key bytes.
		return false, fmt.Errorf("certs: import %s and %s: %w", certFile, keyFile, err)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return false, fmt.Errorf("certs: import: %w: the key of %s cannot sign", ErrCorrupt, keyFile)
	}
	if err := s.PutCandidate(certPEM, redact(key)); err != nil {
		return false, fmt.Errorf("certs: import: %w", err)
	}
	if err := s.Promote(); err != nil {
		return false, fmt.Errorf("certs: import: %w", err)
	}
	return true, nil
}
