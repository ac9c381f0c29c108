package outbox

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/iot-hub/agent/internal/clock"
)

// Config configures a Store. The zero value of every field means its
// default; see DefaultConfig.
type Config struct {
	// MaxBytes caps the bytes of stored records (as encoded, keys and
	// headers included). Default 64 MiB. On 32-bit platforms, where the
	// file must fit in a 2 GiB memory map, at most 512 MiB.
	MaxBytes int64
	// FlushInterval, when positive, lets telemetry appends wait up to this
	// long so that a trickle of readings shares one commit. Control
	// records always commit at once. Default 0: every append commits at
	// once (concurrent appends still share commits).
	FlushInterval time.Duration
	// LiveShare is the share of each telemetry batch handed out from the
	// newest records while an older backlog drains, so that live data is
	// not stuck behind an outage's backlog. Default 0.25; 1 hands out
	// newest first; a negative value turns it off (strict FIFO).
	LiveShare float64
	// CompactMinBytes is the smallest file size worth compacting: once the
	// queue has drained, down to records of an eighth of this, a file
	// larger than this and more than four times its live data is
	// compacted online. Default 8 MiB.
	CompactMinBytes int64
	// ReserveBytes is the room the store keeps on its disk for when the
	// disk fills up: a file of this size beside the store's file
	// (path.reserve), made at Open and deleted when a write first fails
	// for want of room, so that answers to commands, their memos, acks
	// and the other control records are still committed while telemetry
	// is refused (ErrNoSpace). Default 1 MiB; at most MaxBytes.
	ReserveBytes int64
	// MemoMaxCount bounds the memos kept (see Memo): past it the oldest
	// go. Default 10,000.
	MemoMaxCount int
	// MemoMaxAge bounds how long a memo is kept. Default 24 h.
	MemoMaxAge time.Duration
	// Logger receives the store's log lines. Those that come at the pace
	// of the appends or the refusals (full, record quarantined, commit
	// failed) are limited to one a minute per kind, the next saying how
	// many it suppressed; Stats counts every drop. Default: discard.
	Logger *slog.Logger
	// Clock is the time the store reads: of expiries, memos' ages, ages
	// in Stats, the pace of its log lines and of its probes of a full
	// disk. Default clock.System. The writer's pacing (group commit,
	// FlushInterval) keeps to the system's time: it schedules writes to
	// the disk, which take real time.
	Clock clock.Clock
}

// Defaults.
const (
	DefaultMaxBytes        = 64 << 20
	DefaultLiveShare       = 0.25
	DefaultCompactMinBytes = 8 << 20
	DefaultReserveBytes    = 1 << 20
	DefaultMemoMaxCount    = 10000
	DefaultMemoMaxAge      = 24 * time.Hour
	// MaxBytes32 is the largest MaxBytes on 32-bit platforms: the file,
	// free pages and B-tree overhead included, must fit in a 2 GiB map.
	MaxBytes32 = 512 << 20
)

// DefaultConfig returns the configuration the zero Config stands for.
func DefaultConfig() Config {
	return Config{
		MaxBytes:        DefaultMaxBytes,
		LiveShare:       DefaultLiveShare,
		CompactMinBytes: DefaultCompactMinBytes,
		ReserveBytes:    DefaultReserveBytes,
		MemoMaxCount:    DefaultMemoMaxCount,
		MemoMaxAge:      DefaultMemoMaxAge,
		Logger:          slog.New(slog.DiscardHandler),
		Clock:           clock.System,
	}
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBytes == 0 {
		c.MaxBytes = d.MaxBytes
	}
	if c.LiveShare == 0 {
		c.LiveShare = d.LiveShare
	}
	if c.CompactMinBytes == 0 {
		c.CompactMinBytes = d.CompactMinBytes
	}
	if c.ReserveBytes == 0 {
		c.ReserveBytes = d.ReserveBytes
	}
	if c.MemoMaxCount == 0 {
		c.MemoMaxCount = d.MemoMaxCount
	}
	if c.MemoMaxAge == 0 {
		c.MemoMaxAge = d.MemoMaxAge
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	return c
}

// is32bit is true where the memory map is limited to 2 GiB.
const is32bit = strconv.IntSize == 32

// Is32Bit reports whether this build maps at most 2 GiB, which limits
// MaxBytes to MaxBytes32.
const Is32Bit = is32bit

// Validate reports the first field of c (after defaults) that is out of
// range, naming the field and the limit.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxBytes < 1<<20:
		return fmt.Errorf("%w: MaxBytes %d is below the minimum of 1 MiB", ErrInvalidConfig, c.MaxBytes)
	case is32bit && c.MaxBytes > MaxBytes32:
		return fmt.Errorf("%w: MaxBytes %d MiB cannot be mapped on a 32-bit system: at most %d MiB", ErrInvalidConfig, c.MaxBytes>>20, MaxBytes32>>20)
	case c.FlushInterval < 0 || c.FlushInterval > time.Minute:
		return fmt.Errorf("%w: FlushInterval %v is outside 0..1m", ErrInvalidConfig, c.FlushInterval)
	case math.IsNaN(c.LiveShare) || c.LiveShare > 1:
		return fmt.Errorf("%w: LiveShare %v is above 1", ErrInvalidConfig, c.LiveShare)
	case c.CompactMinBytes < 0:
		return fmt.Errorf("%w: CompactMinBytes %d is negative", ErrInvalidConfig, c.CompactMinBytes)
	case c.ReserveBytes < 0 || c.ReserveBytes > c.MaxBytes:
		return fmt.Errorf("%w: ReserveBytes %d is outside 0..MaxBytes (%d)", ErrInvalidConfig, c.ReserveBytes, c.MaxBytes)
	case c.MemoMaxCount < 0:
		return fmt.Errorf("%w: MemoMaxCount %d is negative", ErrInvalidConfig, c.MemoMaxCount)
	case c.MemoMaxAge < 0:
		return fmt.Errorf("%w: MemoMaxAge %v is negative", ErrInvalidConfig, c.MemoMaxAge)
	}
	return nil
}
