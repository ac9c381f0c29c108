// Package certs keeps the agent's TLS client certificate and rotates it on
// the device: the private key is made here and never leaves; only a CSR
// does.
//
// There are only a few pieces. [NewKey] makes a key and [NewCSR] a
// certificate request for it. [Check] decides whether a certificate the
// backend issued may be installed, with one sentinel error per reason. A
// [Store] keeps the key pairs in a directory, in slots: the pending key,
// the candidate, the current and the previous pair; [Store.Import] puts
// the factory pair there at the first start. [CheckPermissions] refuses
// a directory others could read. [RenewAt] says when to renew. A
// [Rotator] runs the rotation with these, on its events and timers.
// [Settings] are the keys of the agent's configuration file's
// certificates section, which give a [RotatorConfig].
//
// # Basics
//
// A rotation goes:
//
//	key, _ := certs.NewKey(certs.AlgECDSAP256)
//	store.PutPending(key)                  // before the CSR leaves
//	csr, _ := certs.NewCSR(key, deviceID)  // sent as certificate.csr.created
//	// ... certificate.issued arrives, possibly after a restart:
//	key, _ = store.Pending()
//	_, err := certs.Check(pem, key, roots, deviceID, now, window)
//	// err != nil: certificate.rotation.failed with err.Error() as reason
//	store.PutCandidate(pem, key)           // consumes the pending key
//	// reconnect with store.Candidate(); on success:
//	store.Promote()                        // certificate.installed
//	// on failure: store.Rollback() and reconnect with store.Current()
//
// Every write is a temporary file, fsync, rename, fsync of the directory,
// and a pair (chain and key) is one file, so a crash or power loss at any
// instant leaves every slot holding an old or a new pair, never a torn
// one. OpenStore removes what an interrupted operation left behind; its
// documentation lists the rules.
//
// # The Rotator
//
// The agent does not make these calls itself: a [Rotator] does. Its Run
// drives the rotation until its context ends. It starts one at the
// RenewAt point, on [Rotator.Rotate] (a certificate.command.rotate), or
// when `agent cert rotate` writes its request file; it queues the
// rotation's events (certificate.csr.created, .installed,
// .rotation.failed) in the outbox, resends an unanswered CSR from
// RetryMin doubling to RetryMax, and takes the certificate
// [Rotator.Issued] hands it. The uplink presents
// [Rotator.ClientCertificate] on every connection and reports each one
// with [Rotator.Connected]: a candidate the broker accepts within
// TryTimeout is promoted, else rolled back. The rotation under way is
// written to the store (rotation.json) at every step, so a restart
// resumes it. Its waits follow RotatorConfig.Clock.
//
// # Caveats
//
//   - Keys are never logged: the signers this package returns print as
//     "[private key redacted]" with fmt and log/slog, and no error holds
//     key bytes or file content. The files hold keys unencrypted, guarded
//     by mode 0600 in a 0700 directory; there is no TPM or secure element
//     support.
//   - Check trusts the clock. A gateway that booted at 1970 before NTP
//     synced refuses every certificate as not yet valid: wait for the
//     clock before rotating.
//   - previous.pem is kept for an operator's manual revert; nothing in
//     this package restores it automatically.
//   - One process opens a store at a time; nothing locks the directory.
//   - CheckPermissions checks owners on Unix only.
package certs
