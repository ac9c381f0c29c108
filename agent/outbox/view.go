package outbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Route says which uplinks carry a record: a bit for each uplink of
// Config.Uplinks (see [Store.Route]). The zero Route is every uplink
// the store's [Routing] sends the device's records on: telemetry,
// events, certificate events. A record for one uplink alone, such as the
// answer to a command that came on it, has that uplink's bit.
type Route uint8

// maxUplinks is how many uplinks a store can name: one bit of Route each.
const maxUplinks = 8

// Routing says which uplinks carry the records of the zero Route (see
// [Store.SetRouting]); the migration phases of the agent are routings:
//
//   - both uplinks at once (phase A): Carriers are both;
//   - Kafka first, MQTT when Kafka is out (phase B): Carriers is Kafka,
//     and Standins MQTT while Kafka is out;
//   - one uplink (phase C, or one uplink configured): Carriers is it.
type Routing struct {
	// Carriers must each have a record before it is deleted: each hands
	// it out and acknowledges it in its own time, one never waiting for
	// another.
	Carriers Route
	// Standins hand the records out too, and the acknowledgement of one
	// is enough: a record a stand-in has is deleted. What a carrier had
	// in flight as well is then a duplicate, counted in
	// Stats.Duplicates.
	Standins Route
}

// view is the state of one uplink's handing out: where it stands in each
// lane, what it has in flight, what it has released, and what it has
// acknowledged of records that wait for another uplink.
type view struct {
	name  string
	bit   Route
	lanes [numLanes]handout
	// inFlight maps the entries handed out and not settled to their
	// lane and route; inFlightN counts them per lane.
	inFlight  map[ID]flight
	inFlightN [numLanes]int
	released  [numLanes][]ID // sorted; handed out again first
	// acked holds the records of the zero Route this uplink has
	// acknowledged (at or above floor) that wait for another carrier.
	acked map[ID]Lane
	// ackedPeak is the most acked has held since it was last made: a Go
	// map does not give back its memory as entries go (see shrinkAcked).
	ackedPeak int
	// floor: every record below it was acknowledged by this uplink, or
	// passed by it as another uplink's own. It rises only while the
	// uplink carries the zero Route (or stands in), so that an uplink
	// that starts to carry sends what it passed meanwhile. Kept in the
	// meta bucket, so that after a restart it does not send again what
	// it had.
	floor       ID
	storedFloor ID // the floor as committed
	// sent and acks count the entries handed out and acknowledged
	// since Open.
	sent, acks uint64
}

// handout is where a view stands in one lane: IDs below head were
// handed out (or are gone); when split is not 0 a backlog drains: IDs up
// to split are the backlog, handed out from head, and IDs above it are
// live, handed out from liveNext.
type handout struct {
	head, liveNext ID
	split          ID
}

// flight is an entry in flight on one uplink.
type flight struct {
	lane  Lane
	route Route
	// dup: another uplink's acknowledgement deleted the record while
	// this one had it in flight.
	dup bool
}

func newView(name string, bit Route) *view {
	return &view{name: name, bit: bit, inFlight: make(map[ID]flight), acked: make(map[ID]Lane)}
}

// shrinkAcked makes acked anew when it holds an eighth of what it held
// at most: a drain acknowledges records faster than commits raise the
// floor (up to ackDelay's worth, 100,000 records and 5 MiB at a million
// a second), and a map keeps the memory of its peak.
func (v *view) shrinkAcked() {
	n := len(v.acked)
	if v.ackedPeak <= 1024 || n > v.ackedPeak/8 {
		return
	}
	acked := make(map[ID]Lane, n)
	for id, l := range v.acked {
		acked[id] = l
	}
	v.acked, v.ackedPeak = acked, n
}

// has reports whether the view acknowledged record id, of the zero
// Route, or passed it.
func (v *view) has(id ID) bool {
	if id < v.floor {
		return true
	}
	_, ok := v.acked[id]
	return ok
}

// lowest is the lowest ID the view has not acknowledged or passed: the
// floor it can rise to. first gives the first record of a lane at or
// after an ID, or 0 when there is none.
func (v *view) lowest(first func(Lane, ID) ID, end ID) ID {
	low := end
	for l, h := range v.lanes {
		if id := first(Lane(l), h.head); id != 0 {
			low = min(low, id)
		}
	}
	for id := range v.inFlight {
		low = min(low, id)
	}
	for _, ids := range v.released {
		if len(ids) > 0 {
			low = min(low, ids[0])
		}
	}
	return low
}

// restart puts the view's handing out back at from, in both lanes.
func (v *view) restart(from ID) {
	for l := range v.lanes {
		v.lanes[l] = handout{head: from}
	}
}

// Route returns the route of the uplink name, one of Config.Uplinks:
// the records given it are handed out to that uplink alone. It panics
// on a name the store was not opened with, a programming error.
func (s *Store) Route(name string) Route {
	return s.viewOf(name).bit
}

func (s *Store) viewOf(name string) *view {
	for _, v := range s.views {
		if v.name == name {
			return v
		}
	}
	panic(fmt.Sprintf("outbox: no uplink %q: the store was opened with %q", name, s.cfg.Uplinks))
}

// serves reports whether v hands out records of route r now.
func (s *Store) serves(v *view, r Route) bool {
	if r != 0 {
		return r == v.bit
	}
	return (s.routing.Carriers|s.routing.Standins)&v.bit != 0
}

// routeOf is the route a stored record's r means to this store: a route
// to no uplink it has (given by a store opened with other uplinks) is
// the zero route, so that every record has an uplink to leave by.
func (s *Store) routeOf(r Route) Route {
	if r&s.allRoutes != r || bits.OnesCount8(uint8(r)) != 1 {
		return 0
	}
	return r
}

// SetRouting changes which uplinks carry the records of the zero Route,
// at once and for every record stored: an uplink that starts to carry,
// or to stand in, sends every record stored it has not acknowledged,
// and records every carrier now has are deleted with the next commit.
// Entries in flight stay so until settled.
func (s *Store) SetRouting(r Routing) error {
	if r.Carriers == 0 || (r.Carriers|r.Standins)&^s.allRoutes != 0 {
		return fmt.Errorf("outbox: routing %+v: the carriers must be one or more of the store's uplinks %q", r, s.cfg.Uplinks)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("outbox: routing: %w", ErrClosed)
	}
	old := s.routing
	s.routing = r
	for _, v := range s.views {
		if s.serves(v, 0) && (old.Carriers|old.Standins)&v.bit == 0 {
			v.restart(v.floor)
		}
	}
	s.sweep = true
	s.notifyLocked()
	s.wakeWriter()
	return nil
}

// settleLocked records that v acknowledged id, of the zero route: the
// record is deleted when v stands in, or when every other carrier has
// it; otherwise it waits, in v.acked, for them. s.mu must be held.
func (s *Store) settleLocked(v *view, id ID, l Lane) {
	if s.routing.Standins&v.bit != 0 || s.everyCarrierHas(id, v) {
		s.leaveLocked(id, l, false)
		return
	}
	v.acked[id] = l
	v.ackedPeak = max(v.ackedPeak, len(v.acked))
}

// everyCarrierHas reports whether every carrier but except has id.
func (s *Store) everyCarrierHas(id ID, except *view) bool {
	for _, w := range s.views {
		if w != except && s.routing.Carriers&w.bit != 0 && !w.has(id) {
			return false
		}
	}
	return true
}

// leaveLocked queues record id for deletion: it is forgotten by every
// view, and what another uplink has of it in flight is a duplicate. s.mu
// must be held.
func (s *Store) leaveLocked(id ID, l Lane, expired bool) {
	s.pendingDeletes = append(s.pendingDeletes, pendingDelete{id: id, lane: l, expired: expired})
	if len(s.views) == 1 {
		return
	}
	s.leaving[id] = struct{}{}
	for _, w := range s.views {
		delete(w.acked, id)
		if f, ok := w.inFlight[id]; ok {
			f.dup = true
			w.inFlight[id] = f
		}
	}
}

// riseLocked raises each view's floor to what it has acknowledged,
// forgets the acknowledgements below it, and deletes the records every
// carrier now has. It returns the floors to commit, by view, when one
// rose. s.mu must be held.
func (s *Store) riseLocked() map[string]ID {
	if len(s.views) == 1 {
		return nil
	}
	var floors map[string]ID
	_ = s.db.View(func(tx *bolt.Tx) error {
		r := reader{s: s, segs: newSegments(tx)}
		first := func(l Lane, from ID) ID {
			for id := range r.records(l, from) {
				return id
			}
			return 0
		}
		for _, v := range s.views {
			if low := v.lowest(first, s.lastID+1); low > v.floor && s.serves(v, 0) {
				v.floor = low
			}
		}
		return nil
	})
	for _, v := range s.views {
		for id := range v.acked {
			if id < v.floor {
				delete(v.acked, id)
			}
		}
		v.shrinkAcked()
		if v.floor != v.storedFloor {
			if floors == nil {
				floors = make(map[string]ID)
			}
			floors[v.name] = v.floor
		}
	}
	for _, v := range s.views {
		for id, l := range v.acked {
			if s.everyCarrierHas(id, v) {
				s.leaveLocked(id, l, false)
			}
		}
	}
	return floors
}

// View is the outbox as one uplink sees it (Config.Uplinks): the records
// it carries to hand out, and the settling of those it took. A store
// with one uplink is the same through its own methods.
type View struct {
	s *Store
	v *view
}

// View returns the view of the uplink name, one of Config.Uplinks. It
// panics on another name, a programming error.
func (s *Store) View(name string) *View { return &View{s: s, v: s.viewOf(name)} }

// Name is the uplink's name.
func (u *View) Name() string { return u.v.name }

// Route is the uplink's route: a record given it goes out on this
// uplink alone.
func (u *View) Route() Route { return u.v.bit }

// TryNext is Store.TryNext for this uplink.
func (u *View) TryNext(max int, wake chan struct{}) ([]Entry, error) {
	var b Batch
	err := u.TryNextBatch(&b, max, wake)
	return b.Entries, err
}

// Next is Store.Next for this uplink.
func (u *View) Next(ctx context.Context, max int) ([]Entry, error) {
	return u.s.next(ctx, u.v, max)
}

// TryNextBatch is Store.TryNextBatch for this uplink.
func (u *View) TryNextBatch(b *Batch, max int, wake chan struct{}) error {
	return u.s.tryNextBatch(u.v, b, max, wake)
}

// Ack is Store.Ack for this uplink: a record of the zero Route is
// deleted once every carrier has acknowledged it.
func (u *View) Ack(ids ...ID) { u.s.ack(u.v, ids) }

// Release is Store.Release for this uplink.
func (u *View) Release(ids ...ID) { u.s.release(u.v, ids) }

// Quarantine is Store.Quarantine for this uplink: the record is set
// aside for every uplink.
func (u *View) Quarantine(id ID, reason string) error { return u.s.quarantine(u.v, id, reason) }

// Append appends records for this uplink alone: each is stored with
// its route.
func (u *View) Append(ctx context.Context, recs ...Record) error {
	own := slices.Clone(recs)
	for i := range own {
		own[i].Route = u.v.bit
	}
	return u.s.Append(ctx, own...)
}

// Cursor is Store.Cursor.
func (u *View) Cursor(name string) ([]byte, bool, error) { return u.s.Cursor(name) }

// PutCursor is Store.PutCursor.
func (u *View) PutCursor(ctx context.Context, name string, value []byte) error {
	return u.s.PutCursor(ctx, name, value)
}

// routeKey and floorKey name an uplink's route bit and floor in the
// meta bucket.
func routeKey(name string) []byte { return []byte("uplink." + name + ".route") }
func floorKey(name string) []byte { return []byte("uplink." + name + ".floor") }

// checkUplinks reports what is wrong with a list of uplink names, as an
// ErrInvalidConfig.
func checkUplinks(names []string) error {
	if len(names) > maxUplinks {
		return fmt.Errorf("%w: Uplinks: %d names; at most %d", ErrInvalidConfig, len(names), maxUplinks)
	}
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("%w: Uplinks[%d]: empty: an uplink needs a name", ErrInvalidConfig, i)
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("%w: Uplinks[%d]: %s is there twice", ErrInvalidConfig, i, strconv.Quote(n))
		}
	}
	return nil
}

// loadViews makes the views of Config.Uplinks, or the one view of a
// store without them, which keeps nothing in the file. Each name keeps
// the route bit the file gave it before, for the records stored for it;
// a new name takes a bit no name took, or else one no configured name
// has. Each view starts from its floor.
func (s *Store) loadViews() error {
	names := s.cfg.Uplinks
	if len(names) == 0 {
		v := newView("", 1)
		s.views, s.allRoutes, s.routing.Carriers = []*view{v}, v.bit, v.bit
		return nil
	}
	given := map[string]int{}
	taken := map[int]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(metaBucket).ForEach(func(k, v []byte) error {
			name, ok := strings.CutPrefix(string(k), "uplink.")
			if !ok {
				return nil
			}
			if name, ok = strings.CutSuffix(name, ".route"); ok && len(v) == 8 {
				if b := int(binary.BigEndian.Uint64(v)); b < maxUplinks {
					given[name], taken[b] = b, true
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	mine := map[int]bool{}
	for _, n := range names {
		if b, ok := given[n]; ok {
			mine[b] = true
		}
	}
	var fresh []string
	for _, n := range names {
		if _, ok := given[n]; ok {
			continue
		}
		b := 0
		for taken[b] && b < maxUplinks-1 {
			b++
		}
		if taken[b] {
			for b = 0; mine[b]; b++ {
			}
		}
		given[n], taken[b], mine[b] = b, true, true
		fresh = append(fresh, n)
	}
	if len(fresh) > 0 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket(metaBucket)
			for _, n := range fresh {
				if err := putUint64(meta, routeKey(n), uint64(given[n])); err != nil {
					return err
				}
				if err := meta.Delete(floorKey(n)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		for _, n := range names {
			v := newView(n, Route(1)<<given[n])
			v.floor = ID(getUint64(meta, floorKey(n)))
			v.storedFloor = v.floor
			v.restart(v.floor)
			s.views = append(s.views, v)
			s.allRoutes |= v.bit
			s.routing.Carriers |= v.bit
		}
		s.sweep = len(s.views) > 1
		return nil
	})
}

// inFlightCountLocked is how many entries the views have in flight. s.mu
// must be held.
func (s *Store) inFlightCountLocked() int {
	n := 0
	for _, v := range s.views {
		n += len(v.inFlight)
	}
	return n
}

// committedLocked forgets what p's transaction deleted, and takes its
// floors as committed. s.mu must be held.
func (s *Store) committedLocked(p *commitPlan) {
	for _, v := range s.views {
		if f, ok := p.floors[v.name]; ok {
			v.storedFloor = f
		}
	}
	if len(s.leaving) == 0 {
		return
	}
	for _, ds := range [][]pendingDelete{p.before, p.after} {
		for _, d := range ds {
			delete(s.leaving, d.id)
		}
	}
	for _, q := range p.quarantines {
		delete(s.leaving, q.id)
	}
}

// sweepLocked deletes the records of the zero Route that every carrier
// has, below the carriers' highest floor: after the routing changed, or
// at Open. s.mu must be held.
func (s *Store) sweepLocked() {
	s.sweep = false
	if len(s.views) == 1 {
		return
	}
	var top ID
	for _, v := range s.views {
		if s.routing.Carriers&v.bit != 0 {
			top = max(top, v.floor)
		}
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		for l := range Lane(numLanes) {
			c := newSegments(tx).cursor(l)
			for id, val := c.First(); id != 0 && id < top; id, val = c.Next() {
				if _, gone := s.leaving[id]; gone || s.routeOf(storedRoute(val)) != 0 {
					continue
				}
				if s.everyCarrierHas(id, nil) {
					s.leaveLocked(id, l, false)
				}
			}
		}
		return nil
	})
}

// UplinkStats describes one uplink's share of the store.
type UplinkStats struct {
	// Name is the uplink's, from Config.Uplinks ("" for a store without).
	Name string
	// Sent counts the entries handed out to it since Open, again after a
	// release included; Acked those it acknowledged.
	Sent, Acked uint64
	// InFlight is how many entries it has handed out and not settled.
	InFlight int
	// Queued is how many records it has still to send, in flight
	// included.
	Queued int
}

// Uplinks returns each uplink's share of the store, in the order of
// Config.Uplinks. With more than one uplink, Queued is counted by
// reading the stored records' routes.
func (s *Store) Uplinks() []UplinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]UplinkStats, len(s.views))
	for i, v := range s.views {
		out[i] = UplinkStats{Name: v.name, Sent: v.sent, Acked: v.acks, InFlight: len(v.inFlight)}
	}
	if s.closed {
		return out
	}
	if len(s.views) == 1 {
		for l := range Lane(numLanes) {
			out[0].Queued += s.lanes[l].count + len(s.pending[l]) - s.leavingLocked(l)
		}
		return out
	}
	count := func(id ID, val []byte) {
		if _, gone := s.leaving[id]; gone {
			return
		}
		route := s.routeOf(storedRoute(val))
		for i, v := range s.views {
			if s.serves(v, route) && (route != 0 || !v.has(id)) {
				out[i].Queued++
			}
		}
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		ss := newSegments(tx)
		for l := range Lane(numLanes) {
			c := ss.cursor(l)
			for id, val := c.First(); id != 0; id, val = c.Next() {
				count(id, val)
			}
			for _, r := range s.pending[l] {
				if ss.get(l, r.id) == nil {
					count(r.id, r.data)
				}
			}
		}
		return nil
	})
	return out
}

// ReleaseAll releases every entry the uplink has in flight: for an
// uplink that stopped, whose successor hands them out again.
func (u *View) ReleaseAll() {
	u.s.mu.Lock()
	ids := make([]ID, 0, len(u.v.inFlight))
	for id := range u.v.inFlight {
		ids = append(ids, id)
	}
	u.s.mu.Unlock()
	u.s.release(u.v, ids)
}
