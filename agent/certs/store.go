package certs

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/iot-hub/agent/internal/atomicfile"
)

// File names of the slots in a store directory.
const (
	currentFile   = "current.pem"
	candidateFile = "candidate.pem"
	previousFile  = "previous.pem"
	pendingFile   = "pending-key.pem"
)

// Store keeps the device's key pairs in one directory (the state
// directory's "certs"), each slot one file of mode 0600:
//
//   - current.pem: the pair the agent connects with;
//   - candidate.pem: a checked pair waiting to be tried, then promoted or
//     rolled back;
//   - previous.pem: the pair current replaced, kept for a manual revert;
//   - pending-key.pem: the key whose CSR was sent, waiting for its
//     certificate.
//
// A pair (chain and key) is one file, replaced by atomic rename, so it can
// never be torn between a certificate and another key. A Store is safe
// for concurrent use by one process; two processes must not open the same
// directory. A Store holds no keys in memory and has nothing to close.
type Store struct {
	dir string
	mu  sync.Mutex
}

// OpenStore opens the store in dir, creating it with mode 0700 if it does
// not exist (its parent must). It refuses a directory that fails
// CheckPermissions, then applies the recovery rules for a crash in the
// middle of an operation:
//
//  1. Temporary files are removed: they are writes that never reached
//     their rename, so the slot they were meant for still holds its old
//     content.
//  2. A pending key equal to the candidate's or the current pair's key is
//     removed: PutCandidate stored it and crashed before removing it.
//
// Promote needs no rule: every state between its steps has a usable
// current pair (see Promote).
func OpenStore(dir string) (*Store, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, fmt.Errorf("certs: open store: %w", err)
		}
		// Mkdir's mode passes through the umask; make it exact.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("certs: open store: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("certs: open store: %w", err)
	}
	if err := CheckPermissions(dir); err != nil {
		return nil, fmt.Errorf("certs: open store: %w", err)
	}
	s := &Store{dir: dir}
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("certs: open store: recover: %w", err)
	}
	return s, nil
}

// recover applies the rules documented on OpenStore.
func (s *Store) recover() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if atomicfile.IsTemp(e.Name()) {
			if err := removeFile(s.dir, e.Name()); err != nil {
				return err
			}
		}
	}
	key, err := s.pending()
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, slot := range []string{candidateFile, currentFile} {
		c, _, err := s.load(slot)
		if err == nil && sameKey(key.Public(), c.Leaf.PublicKey) {
			return removeFile(s.dir, pendingFile)
		}
	}
	return nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// PutPending durably stores key as the pending key, replacing any other:
// the key of a CSR sent and waiting for its certificate.
func (s *Store) PutPending(key crypto.Signer) error {
	if key == nil {
		return fmt.Errorf("certs: put pending: %w", errNoKey)
	}
	data, err := encodeKey(key)
	if err != nil {
		return fmt.Errorf("certs: put pending: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := writeFile(s.dir, pendingFile, data); err != nil {
		return fmt.Errorf("certs: put pending: %w", err)
	}
	return nil
}

// Pending returns the pending key, or an error wrapping ErrNotFound if
// there is none, or ErrCorrupt if its file is damaged.
func (s *Store) Pending() (crypto.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending()
}

func (s *Store) pending() (crypto.Signer, error) {
	path := filepath.Join(s.dir, pendingFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("certs: pending key: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("certs: pending key: %w", err)
	}
	k, err := decodeKey(data)
	if err != nil {
		return nil, fmt.Errorf("certs: pending key: %s: %w", path, err)
	}
	return k, nil
}

// PutCandidate durably stores certPEM (leaf first, then intermediates)
// with key as the candidate pair, replacing any other candidate, then
// removes the pending key if it is key. It refuses PEM that is not only
// certificates (ErrBadPEM) and a leaf whose public key is not key's
// (ErrWrongKey); the rest of the checks are Check's, to be made before.
func (s *Store) PutCandidate(certPEM []byte, key crypto.Signer) error {
	if key == nil {
		return fmt.Errorf("certs: put candidate: %w", errNoKey)
	}
	chain, err := parseChain(certPEM)
	if err != nil {
		return fmt.Errorf("certs: put candidate: %w", err)
	}
	if !sameKey(key.Public(), chain[0].PublicKey) {
		return fmt.Errorf("certs: put candidate: %w: the certificate is for another key", ErrWrongKey)
	}
	ders := make([][]byte, len(chain))
	for i, c := range chain {
		ders[i] = c.Raw
	}
	data, err := encodePair(ders, key)
	if err != nil {
		return fmt.Errorf("certs: put candidate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := writeFile(s.dir, candidateFile, data); err != nil {
		return fmt.Errorf("certs: put candidate: %w", err)
	}
	if p, err := s.pending(); err == nil && sameKey(p.Public(), key.Public()) {
		if err := removeFile(s.dir, pendingFile); err != nil {
			return fmt.Errorf("certs: put candidate: remove pending key: %w", err)
		}
	}
	return nil
}

// Current returns the pair to connect with, ready for tls.Config
// (Leaf set), and its parsed leaf. The error wraps ErrNotFound when no
// pair was ever promoted, ErrCorrupt (naming the file) when the file is
// damaged.
func (s *Store) Current() (tls.Certificate, *x509.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(currentFile)
}

// Candidate returns the candidate pair, as Current does.
func (s *Store) Candidate() (tls.Certificate, *x509.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(candidateFile)
}

// Previous returns the pair the last Promote replaced, as Current does.
func (s *Store) Previous() (tls.Certificate, *x509.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(previousFile)
}

// load reads and decodes the pair file name; errors name the slot and,
// for a damaged file, its path.
func (s *Store) load(name string) (tls.Certificate, *x509.Certificate, error) {
	slot := name[:len(name)-len(".pem")]
	path := filepath.Join(s.dir, name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, nil, fmt.Errorf("certs: %s: %w", slot, ErrNotFound)
	}
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("certs: %s: %w", slot, err)
	}
	c, leaf, err := decodePair(data)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("certs: %s: %s: %w", slot, path, err)
	}
	return c, leaf, nil
}

// dropPending removes the pending key, if any: the rotation it was made
// for failed.
func (s *Store) dropPending() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := removeFile(s.dir, pendingFile); err != nil {
		return fmt.Errorf("certs: drop the pending key: %w", err)
	}
	return nil
}
