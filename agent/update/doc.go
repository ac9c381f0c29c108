// Package update installs a new agent binary that updateAgent names: it
// downloads it over HTTPS (bounded, resumed after a dropped connection),
// verifies its SHA-256 and an ed25519 signature against the public key
// pinned in the configuration, and keeps it in one of two slots in the
// state directory (A/B), the only place the hardened unit lets the agent
// write. The packaged binary starts the installed one (Exec), counting
// its starts while it is on trial: one that does not connect in time, or
// stops before it does too often, is rolled back to the one before by
// the agent itself, as A/B boot schemes do.
package update
