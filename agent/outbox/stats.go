package outbox

import "time"

// Stats is a snapshot of the store.
type Stats struct {
	// Control and Telemetry describe the lanes.
	Control, Telemetry LaneStats
	// InFlight is how many entries are handed out and not yet acked or
	// released.
	InFlight int
	// Dropped counts records dropped instead of sent, since the file was
	// created.
	Dropped DropCounts
	// Quarantined is how many records are set aside (refused by the
	// broker, or failing their checksum).
	Quarantined int
	// Duplicates counts, since Open, the entries an uplink acknowledged
	// after another uplink's acknowledgement had deleted their record:
	// sent twice, as a stand-in's handing over allows, or a change of
	// Routing that drops a carrier with entries in flight.
	Duplicates uint64
	// Salvaged counts the records Open copied out of a damaged file into
	// the new one, and those it could not; zero when the file was sound.
	Salvaged SalvageCounts
	// FileSize is the size of the file in bytes.
	FileSize int64
	// Commits counts write transactions since Open; each costs bbolt two
	// fdatasync calls.
	Commits uint64
	// Compactions counts online compactions since Open.
	Compactions uint64
	// Err is why the file could not be read (ErrClosed after Close, or
	// bbolt's error); the lanes are then zero and the rest comes from
	// memory.
	Err error
}

// LaneStats describes one lane.
type LaneStats struct {
	// Depth is how many records wait in the lane, in flight included
	// (acked ones are gone, though their deletion may not be committed).
	Depth int
	// Bytes is the size of the lane's records as stored, until the
	// deletions pending are committed.
	Bytes int64
	// OldestAge is how long the oldest of them has waited; 0 when empty.
	OldestAge time.Duration
}

// DropCounts counts dropped records by reason.
type DropCounts struct {
	// Cap: telemetry dropped, oldest first, to make room under MaxBytes.
	Cap uint64
	// Expired: records whose Expiry passed before they were sent.
	Expired uint64
	// Refused: records an Append could not store (ErrFull, ErrTooLarge,
	// ErrNoSpace).
	Refused uint64
}
