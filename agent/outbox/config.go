package outbox

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/iot-hub/agent/internal/clock"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Config configures a Store. The zero value of every field means its
// default; see DefaultConfig.
type Config struct {
	// Settings are the byte cap, the telemetry's commits and its order:
	// the keys of the configuration file's outbox section.
	Settings
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
	// Uplinks names the uplinks that drain the store, each through its
	// View, at most 8: records go out on each, as their Route and the
	// store's Routing say, and are deleted once every uplink that must
	// carry them has acknowledged them. None is one uplink, which uses
	// the store's own methods.
	Uplinks []string
	// Clock is the time the store reads: of expiries, memos' ages, ages
	// in Stats, the pace of its log lines and of its probes of a full
	// disk. Default clock.System. The writer's pacing (group commit,
	// FlushInterval) keeps to the system's time: it schedules writes to
	// the disk, which take real time.
	Clock clock.Clock
}

// Settings are the keys of the outbox section of the agent's
// configuration file. Zero values are keys left out, which SetDefaults
// fills in; the limit tags are the configuration's limits.
type Settings struct {
	// MaxBytes caps the bytes of stored records (as encoded, keys and
	// headers included); beyond it the oldest telemetry is dropped.
	// Default 64MiB; at least 1MiB, and on 32-bit platforms, where the
	// file must fit in a 2 GiB memory map, at most 512MiB (MaxBytes32).
	MaxBytes confkeys.Size `yaml:"maxBytes" limit:"1MiB.."`
	// FlushInterval, when positive, lets telemetry appends wait up to
	// this long so that a trickle of readings shares one commit (fewer
	// writes to an SD card). Control records always commit at once.
	// 0s to 1m; 0s, the default, makes every append commit at once
	// (concurrent appends still share commits).
	FlushInterval time.Duration `yaml:"flushInterval" limit:"0s..1m"`
	// LiveShare is the share of each telemetry batch handed out from the
	// newest records while an older backlog drains, so that live data is
	// not stuck behind an outage's backlog. Default (and 0) 0.25; 1
	// hands out newest first; a negative value turns it off (strict
	// FIFO). At most 1.
	LiveShare float64 `yaml:"liveShare"`
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
	c := Config{
		CompactMinBytes: DefaultCompactMinBytes,
		ReserveBytes:    DefaultReserveBytes,
		MemoMaxCount:    DefaultMemoMaxCount,
		MemoMaxAge:      DefaultMemoMaxAge,
		Logger:          slog.New(slog.DiscardHandler),
		Clock:           clock.System,
	}
	c.Settings.SetDefaults()
	return c
}

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.MaxBytes, DefaultMaxBytes)
	confkeys.SetDefault(&s.LiveShare, DefaultLiveShare)
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Settings.SetDefaults()
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

// Validate reports the first key of s (defaults filled in) that is out
// of range, as a *confkeys.FieldError at the key's path ("maxBytes")
// wrapping ErrInvalidConfig. Its message names the field and the limit,
// as Go callers set it.
func (s Settings) Validate() error {
	switch {
	case s.MaxBytes < confkeys.MiB:
		return fieldErr("maxBytes", "MaxBytes %d is below the minimum of 1 MiB", int64(s.MaxBytes))
	case is32bit && s.MaxBytes > MaxBytes32:
		return fieldErr("maxBytes", "MaxBytes %d MiB cannot be mapped on a 32-bit system: at most %d MiB", int64(s.MaxBytes>>20), MaxBytes32>>20)
	case s.FlushInterval < 0 || s.FlushInterval > time.Minute:
		return fieldErr("flushInterval", "FlushInterval %v is outside 0..1m", s.FlushInterval)
	case math.IsNaN(s.LiveShare) || s.LiveShare > 1:
		return fieldErr("liveShare", "LiveShare %v is above 1", s.LiveShare)
	}
	return nil
}

// Validate reports the first field of c (after defaults) that is out of
// range, naming the field and the limit: the Settings' (Settings.Validate's
// *confkeys.FieldError), or one of the others.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := c.Settings.Validate(); err != nil {
		return err
	}
	switch {
	case c.CompactMinBytes < 0:
		return fmt.Errorf("%w: CompactMinBytes %d is negative", ErrInvalidConfig, c.CompactMinBytes)
	case c.ReserveBytes < 0 || c.ReserveBytes > int64(c.MaxBytes):
		return fmt.Errorf("%w: ReserveBytes %d is outside 0..MaxBytes (%d)", ErrInvalidConfig, c.ReserveBytes, int64(c.MaxBytes))
	case c.MemoMaxCount < 0:
		return fmt.Errorf("%w: MemoMaxCount %d is negative", ErrInvalidConfig, c.MemoMaxCount)
	case c.MemoMaxAge < 0:
		return fmt.Errorf("%w: MemoMaxAge %v is negative", ErrInvalidConfig, c.MemoMaxAge)
	}
	if err := checkUplinks(c.Uplinks); err != nil {
		return err
	}
	return nil
}

// fieldErr returns the *confkeys.FieldError of the key at path, wrapping
// ErrInvalidConfig, its message formatted.
func fieldErr(path, format string, args ...any) error {
	return &confkeys.FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidConfig}
}
