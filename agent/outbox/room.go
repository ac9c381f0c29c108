package outbox

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/iot-hub/agent/internal/lograte"
)

// What the store does when its disk is full.
//
// The store keeps room in reserve: a file of Config.ReserveBytes beside
// its own (path.reserve), made at Open, where it needs as much room
// again to spare, as the probes below do: a store reopened on a disk
// still full starts short of room. The first commit that fails for
// want of room (ENOSPC, EDQUOT) makes the store short of room: it deletes
// the reserve, which gives its room to the store's next writes, and
// commits again at once what the failed commit held besides telemetry
// (answers to commands and their memos, status and certificate events,
// dead letters, cursors, acks). While it is short of room:
//
//   - telemetry appends fail with ErrNoSpace, without a commit, unless
//     the file's free pages can hold them with a reserve's worth to
//     spare: they would take the room kept for the rest;
//   - the rest is committed as ever, in the reserve's room, and fails
//     with ErrNoSpace once that is used up too;
//   - at most every roomProbeInterval, when it has work to commit, the
//     store tries to make its reserve again, with as much room to spare:
//     once it can, it has room again. The spare room keeps the store
//     from taking back the very room it gave away, over and over.
//
// The condition is logged when it starts, once a minute while it lasts,
// with the appends refused meanwhile, and when it ends.

// reserveSuffix names the reserve file, beside the store's file.
const reserveSuffix = ".reserve"

// roomProbeInterval is how often a store short of room tries to make its
// reserve again.
const roomProbeInterval = 5 * time.Second

// roomLogInterval is how often a store short of room says so again.
const roomLogInterval = time.Minute

// roomLogKey is the key of those lines in room.limit.
const roomLogKey = "short of room"

// room is the writer's view of the disk. Only the writer (and Open, before
// it starts) use it.
type room struct {
	reserve string           // the reserve file's path
	bytes   int64            // its size: Config.ReserveBytes
	short   error            // why the store is short of room (wraps ErrNoSpace); nil while it has room
	since   time.Time        // since when it is short of room
	probed  time.Time        // the last attempt to make the reserve again
	probe   error            // why it failed
	limit   *lograte.Limiter // of the log lines while short of room, under roomLogKey
}

// isNoSpace reports whether err is the file system's "no room left": the
// disk is full, or the user's quota is.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// makeReserve makes the reserve file hold size bytes of the disk, unless
// it does already, with as much room again to spare: it writes twice its
// size, then gives the second half back. The spare room keeps a store
// short of room, at Open as at a probe, from taking back the very room
// it gave away. It writes zeros and syncs them: a sparse file would hold
// none. When it fails, no reserve file is left.
func makeReserve(path string, size int64) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() == size {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = writeZeros(f, 2*size)
	if err == nil {
		err = f.Truncate(size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// writeZeros writes size zero bytes to f, from where it stands.
func writeZeros(f *os.File, size int64) error {
	zeros := make([]byte, 64<<10)
	for size > 0 {
		n, err := f.Write(zeros[:min(size, int64(len(zeros)))])
		if err != nil {
			return err
		}
		size -= int64(n)
	}
	return nil
}

// openReserve makes the reserve at Open. A disk without room for it, and
// as much to spare, leaves the store short of room from the start, as it
// was when it closed.
func (s *Store) openReserve() error {
	err := makeReserve(s.room.reserve, s.room.bytes)
	if err != nil && isNoSpace(err) {
		s.outOfRoom(fmt.Errorf("make the reserve %s: %w", s.room.reserve, err))
		return nil
	}
	return err
}

// outOfRoom records that a write failed for want of room, cause: the
// first time, it logs the condition and deletes the reserve; then it
// counts the failure, logged once a minute. It returns cause wrapped in
// ErrNoSpace.
func (s *Store) outOfRoom(cause error) error {
	now := s.now()
	if s.room.short == nil {
		s.room.short = fmt.Errorf("%w: %w", ErrNoSpace, cause)
		s.room.since, s.room.probed, s.room.probe = now, now, nil
		released := os.Remove(s.room.reserve) == nil
		s.room.limit.Allow(roomLogKey) // the line below opens the window
		s.log.Error("outbox: disk full; telemetry is refused until there is room, answers and acks use the reserve",
			"path", s.path, "err", cause, "reserveReleased", released, "reserveBytes", s.room.bytes)
		return s.room.short
	}
	s.refusedForRoom()
	return s.room.short
}

// refusedForRoom counts an append refused, or a commit failed, while the
// store is short of room, and says so once a minute.
func (s *Store) refusedForRoom() {
	if suppressed, ok := s.room.limit.Allow(roomLogKey); ok {
		s.log.Error("outbox: disk still full", "path", s.path, "err", s.room.short, "refused", suppressed+1, "since", s.room.since, "reserve", s.room.probe)
	}
}

// probeRoom tries, when it is time, to make the reserve again, for a
// store short of room: once it can, the store has room again.
func (s *Store) probeRoom() {
	now := s.now()
	if s.room.short == nil {
		return
	}
	// A clock set back since the last probe does not put the next off.
	if since := now.Sub(s.room.probed); since >= 0 && since < roomProbeInterval {
		return
	}
	s.room.probed = now
	if s.room.probe = makeReserve(s.room.reserve, s.room.bytes); s.room.probe != nil {
		return // said in the next "still full" line
	}
	n := s.room.limit.Reset(roomLogKey)
	s.log.Info("outbox: disk has room again; telemetry is accepted", "path", s.path, "refused", n, "fullFor", now.Sub(s.room.since).Round(time.Millisecond).String())
	s.room.short = nil
}

// admits reports whether a store short of room takes a telemetry append
// of need bytes: when the file's free pages hold it with a reserve's
// worth to spare, so that it does not grow the file.
func (s *Store) admits(need int64) bool {
	st := s.db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(s.db.Info().PageSize)
	return free-need >= s.room.bytes
}

// refuseForRoom answers, with the reason, the telemetry appends of batch
// that a store short of room does not take (see admits), and returns the
// rest.
func (s *Store) refuseForRoom(batch []*appendReq) []*appendReq {
	if s.room.short == nil {
		return batch
	}
	var admitted int64
	kept := batch[:0:0]
	for _, req := range batch {
		need := req.bytes()
		if req.control || s.admits(admitted+need) {
			admitted += need
			kept = append(kept, req)
			continue
		}
		s.unstage(req.recs)
		s.countRefused(len(req.recs))
		s.refusedForRoom()
		req.done <- s.room.short
	}
	return kept
}
