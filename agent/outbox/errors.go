package outbox

import "errors"

// Errors. Operations wrap them with their name ("outbox: append: ...").
var (
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("outbox closed")
	// ErrFull: the records of an Append do not fit under the byte cap even
	// after dropping every piece of telemetry that may be dropped; nothing
	// of that Append was stored. Or PutCursor would pass MaxCursors.
	ErrFull = errors.New("outbox full")
	// ErrNoSpace: the disk under the store has no room left (ENOSPC or
	// EDQUOT); nothing of that Append was stored. Telemetry meets it
	// from the first write that failed until there is room again;
	// control records, memos and cursors once the reserve's room is used
	// up too (see Config.ReserveBytes).
	ErrNoSpace = errors.New("no room left on the disk")
	// ErrTooLarge: one record is larger than the byte cap, or a memo's or
	// cursor's value longer than its limit.
	ErrTooLarge = errors.New("record larger than the outbox cap")
	// ErrInvalidRecord: a record has no topic or an unknown lane, or a
	// memo key or cursor name is empty or too long.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrUnknownID: Quarantine was given an id that is not in flight.
	ErrUnknownID = errors.New("unknown record id")
	// ErrInvalidConfig: Config.Validate refused a value.
	ErrInvalidConfig = errors.New("invalid outbox config")
)
