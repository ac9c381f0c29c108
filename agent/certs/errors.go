package certs

import "errors"

// Errors. Check wraps its sentinels with a message naming what is wrong
// ("certs: check: wrong subject: CN is \"gw-1\", want \"gw-2\""); that
// message is meant to be the reason of certificate.rotation.failed. Store
// operations wrap theirs with the operation and the file.
var (
	// ErrBadPEM: the issued certificate is not PEM, holds a block that is
	// not a CERTIFICATE, or a certificate that does not parse.
	ErrBadPEM = errors.New("bad PEM")
	// ErrWrongKey: the certificate's public key is not the pending key's.
	ErrWrongKey = errors.New("wrong key")
	// ErrWrongSubject: the certificate's subject CN is not the device id.
	ErrWrongSubject = errors.New("wrong subject")
	// ErrNotYetValid: now is before the certificate's NotBefore.
	ErrNotYetValid = errors.New("not yet valid")
	// ErrExpired: now is after the certificate's NotAfter.
	ErrExpired = errors.New("expired")
	// ErrUntrusted: the certificate does not chain to the roots for client
	// authentication.
	ErrUntrusted = errors.New("untrusted")
	// ErrTooShort: the certificate expires within the renewal window, so
	// installing it would start another rotation at once.
	ErrTooShort = errors.New("validity too short")

	// ErrUnknownAlg: NewKey was given an algorithm it does not know.
	ErrUnknownAlg = errors.New("unknown key algorithm")
	// ErrNotFound: a store slot (current, candidate, previous, pending key)
	// is empty.
	ErrNotFound = errors.New("not found")
	// ErrCorrupt: a stored file is not a well-formed key or key pair
	// (truncated, garbage, or a key that does not match its certificate).
	// The message names the file, never its content.
	ErrCorrupt = errors.New("corrupt")
	// ErrPermissions: CheckPermissions found a file or directory with a
	// wrong mode or owner.
	ErrPermissions = errors.New("unsafe permissions")
)

// errNoKey reports a nil key given to a Put method.
var errNoKey = errors.New("nil key")
