package outbox

import (
	"context"
	"fmt"
	"slices"
)

// appendReq is one Append waiting for the writer.
type appendReq struct {
	recs    []encoded
	memo    *memoWrite   // stored with recs, if not nil
	cursor  *cursorWrite // a PutCursor or DeleteCursor, which has no recs
	control bool         // holds a control record, a memo or a cursor: commit without delay
	awaited bool         // holds control records a consumer was waiting for
	done    chan error   // receives the outcome once
}

// bytes is the size of req's records as stored.
func (req *appendReq) bytes() int64 {
	var n int64
	for _, r := range req.recs {
		n += int64(len(r.data))
	}
	return n
}

// encoded is a record in its stored form, with the ID it was given.
type encoded struct {
	id   ID
	lane Lane
	data []byte
}

// Append stores recs durably: when it returns nil they are on disk, fsynced,
// and will be handed out by Next until acked. Concurrent Appends share
// commits. Records of one Append are stored together or not at all.
//
// When the records would pass MaxBytes, the oldest telemetry not in flight
// is dropped (and counted) to make room; control records are never dropped
// for room. If they still do not fit, Append fails with ErrFull; a single
// record larger than MaxBytes fails with ErrTooLarge.
//
// If ctx ends before the commit, Append returns its error, and the
// records may or may not have been stored.
func (s *Store) Append(ctx context.Context, recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	return s.append(ctx, nil, recs)
}

// append is Append with an optional memo.
func (s *Store) append(ctx context.Context, memo *memoWrite, recs []Record) error {
	for i := range recs {
		if r := &recs[i]; r.Lane >= numLanes || r.Topic == "" {
			return fmt.Errorf("outbox: append: record %d: %w: lane %v, topic %q", i, ErrInvalidRecord, r.Lane, r.Topic)
		}
	}
	topics, err := s.resolveTopics(recs)
	if err != nil {
		return err
	}
	req := &appendReq{recs: make([]encoded, len(recs)), memo: memo, done: make(chan error, 1)}
	now := s.now()
	req.control = memo != nil
	var total int64
	for i := range recs {
		r := &recs[i]
		data := encodeRecord(nil, r, topics[i], now)
		total += int64(len(data))
		req.recs[i] = encoded{lane: r.Lane, data: data}
		req.control = req.control || r.Lane == LaneControl
	}
	if total > int64(s.cfg.MaxBytes) {
		s.countRefused(len(recs))
		return fmt.Errorf("outbox: append: %w: %d bytes, cap %d", ErrTooLarge, total, s.cfg.MaxBytes)
	}
	if err := s.stage(req); err != nil {
		return err
	}
	return s.send(ctx, "append", req)
}

// send hands req to the writer and waits for its commit; op names the
// operation in errors. Should the store close, or ctx end, before the
// writer takes req, its records are taken back.
func (s *Store) send(ctx context.Context, op string, req *appendReq) error {
	select {
	case s.reqs <- req:
	case <-s.stop:
		s.unstage(req.recs)
		return fmt.Errorf("outbox: %s: %w", op, ErrClosed)
	case <-ctx.Done():
		s.unstage(req.recs)
		return contextDone(op, ctx)
	}
	select {
	case err := <-req.done:
		if err != nil {
			return fmt.Errorf("outbox: %s: %w", op, err)
		}
		return nil
	case <-s.done: // the writer has finished
		select {
		case err := <-req.done:
			if err != nil {
				return fmt.Errorf("outbox: %s: %w", op, err)
			}
			return nil
		default:
			return fmt.Errorf("outbox: %s: %w", op, ErrClosed)
		}
	case <-ctx.Done():
		return contextDone(op, ctx)
	}
}

// resolveTopics returns the topic id of each record, under one lock, giving a
// new topic the next id (the writer stores new topics with the records
// that use them); it fails when the store is closed.
func (s *Store) resolveTopics(recs []Record) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("outbox: append: %w", ErrClosed)
	}
	ids := make([]uint64, len(recs))
	for i := range recs {
		topic := recs[i].Topic
		id, ok := s.topicIDs[topic]
		if !ok {
			id = s.nextTopic
			s.nextTopic++
			s.topicIDs[topic] = id
			s.topicNames[id] = topic
			s.pendingTopics[id] = topic
		}
		ids[i] = id
	}
	return ids, nil
}

// countRefused counts records an Append could not store. The count
// reaches the file with the next commit.
func (s *Store) countRefused(n int) {
	s.mu.Lock()
	s.counters.dropped.Refused += uint64(n)
	s.countersDirty = true
	s.mu.Unlock()
	s.wakeWriter()
}

// stage gives req's records their IDs and hands them to Next at once:
// sending them overlaps their commit. The writer commits them under these
// IDs, or takes them back if it cannot.
func (s *Store) stage(req *appendReq) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("outbox: append: %w", ErrClosed)
	}
	for i := range req.recs {
		r := &req.recs[i]
		s.lastID++
		r.id = s.lastID
		s.pending[r.lane] = append(s.pending[r.lane], stagedRecord{id: r.id, data: r.data})
	}
	if len(req.recs) > 0 {
		req.awaited = req.control && len(s.wakes) > 0
		s.notifyLocked()
	}
	return nil
}

// unstage takes back records staged and not committed: Next no longer
// hands them out, and those in flight leave it (a late Ack is ignored).
func (s *Store) unstage(recs []encoded) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make(map[ID]bool, len(recs))
	for _, r := range recs {
		ids[r.id] = true
		for _, v := range s.views {
			s.landLocked(v, r.id)
		}
	}
	for l := range s.pending {
		s.pending[l] = slices.DeleteFunc(s.pending[l], func(p stagedRecord) bool { return ids[p.id] })
	}
}
