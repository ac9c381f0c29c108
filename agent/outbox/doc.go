// Package outbox is the agent's durable queue: every message the agent
// publishes is appended here first and leaves only when the broker has
// acknowledged it, so nothing is lost while the network or the broker is
// down, or when the power goes.
//
// There are only a few types. A [Store] is one bbolt file. A [Record] is a
// message waiting to be published, in one of two [Lane]s: control (RPC
// responses, status, certificate events, dead letters) drains before
// telemetry. An [Entry] is a record handed out to the uplink, with the
// [ID] that acknowledges it. A [Memo] is a small value kept under a key
// beside the records: the answer to a command. Package outboxtest opens
// stores for the tests of every package.
//
// # Basics
//
// [Store.Append] returns once its records are fsynced; concurrent appends
// share one commit. [Store.Next] hands out entries not yet in flight, up to
// the window the uplink has free ([Store.TryNextBatch], for a consumer
// that drains in rounds, into memory reused from round to round);
// [Store.Ack] deletes them once the broker
// has them, [Store.Release] returns them for a retry, [Store.Quarantine]
// sets aside one the broker refuses for good. [Store.Stats] reports depth,
// bytes, age, drops and the file's size.
//
// [Store.AppendMemo] commits records and a memo together, so that an
// answer and the memo that keeps it are on disk both or neither;
// [Store.Memo] reads a memo back. The memos are bounded in number and
// age (Config.MemoMaxCount, MemoMaxAge), the oldest going first.
//
// [Store.PutCursor] durably records how far a consumer of the agent's
// input has got (a Kafka partition's next offset), sharing a commit with
// appends; [Store.Cursor] reads it back. Cursors are few and small, kept
// apart from records and memos until replaced or deleted.
//
// # Segments
//
// A lane's records are stored in segments of at most 1,024 records or
// 256 KiB, each a bucket of its own, with its state (how many of its
// records are live, and the IDs of those gone, as ranges) in an index
// beside it. An acknowledged record is not deleted from the tree: its
// ID joins its segment's ranges, and the segment is deleted whole once
// none of its records is live. A drain so marks records gone for the
// price of a few bytes of state per commit, not a search and a leaf
// rewritten per record. Records dropped for room, expired or
// quarantined leave the same way.
//
// Opening a file of the release before segments (records keyed by ID in
// a bucket per lane) converts it, oldest first, in transactions of
// 8 MiB, each moving records and deleting them from the old bucket
// together: nothing is lost or doubled by a crash, and the next Open
// goes on.
//
// # Caveats
//
//   - Delivery is at-least-once: entries handed out but not acked when the
//     process dies are handed out again after it restarts, and an Ack
//     becomes durable with the next commit, not before Ack returns.
//   - Next hands records out while their commit syncs, so that sending
//     them overlaps the fsync: an entry may be handed out, even acked,
//     before its Append returns. If that commit fails, the Append fails
//     though the record may have been sent.
//   - The byte cap (Config.MaxBytes) counts the live records' bytes;
//     cursors, bounded by their own limits (MaxCursors), do not count,
//     nor do records gone from a segment that still has a live one: the
//     file holds them until the segment goes, or compaction leaves them
//     behind (at most a segment, 256 KiB, per record still live; under a
//     drain, the segment being drained). Reaching
//     the cap drops the oldest telemetry that is not in flight, counted in
//     Stats.Dropped.Cap; control records are never dropped for room, so an
//     Append that cannot fit fails with ErrFull.
//   - A full disk does not stop the control records: the store keeps a
//     file of Config.ReserveBytes beside its own (path.reserve) and
//     deletes it when a write first fails for want of room. Until there
//     is room again, telemetry fails with ErrNoSpace (unless the file's
//     free pages hold it with a reserve's worth to spare), while answers
//     to commands, their memos, acks and the other control records are
//     committed in the reserve's room; the condition is logged when it
//     starts, once a minute, and when it ends. The store finds the room
//     back by making its reserve again, every few seconds while it has
//     work to commit. The room the reserve gives back is free for any
//     process to take, too.
//   - bbolt checksums only its meta pages; every record carries a CRC-32C,
//     and one that fails it is quarantined, never sent. A file that is
//     damaged or truncated is salvaged at Open, so the agent keeps
//     running. Open walks the file's tree itself before bbolt opens it:
//     bbolt's own check runs in a goroutine that a damaged page can kill
//     with the whole process, at every start. To salvage, the store reads
//     its pages itself (never through bbolt,
//     which can panic or loop on a damaged page), copies every record
//     that passes its checksum and whose topic name does too into a new
//     file, in its lane under its ID (a segment's records gone by its
//     state left out), with the quarantine, the memos and
//     cursors that pass theirs, the drop counters and the uplinks' route
//     bits, and moves the damaged file aside, to path.corrupt-<time>.
//     Stats.Salvaged counts the records saved and lost. Records under a
//     branch page that cannot be read are found by a scan of the pages
//     no longer reachable. The file keeps no freelist (a page less per
//     commit; bbolt finds the free pages at Open by walking the tree), so
//     the scan also meets old copies of pages, freed: a record acked since
//     is left out by its segment's state, one of the other lane by the
//     lane each record names, and one still live is copied once. The uplinks' floors are not
//     kept: what an uplink had acknowledged of records another still
//     needed is sent again. A cursor lost, or possibly lost, takes the
//     connection number (status/connection) with it: it is then seeded
//     with the time in Unix milliseconds, so that it never goes back.
//     When the meta page of the last commit is lost, the store is that
//     of the commit before (bbolt's other meta page), and the records of
//     the last commit are lost uncounted; when the root page is lost
//     (a truncated file, whose last pages hold it), nothing is saved.
//   - bbolt never shrinks its file: the store compacts it online once the
//     queue has drained (to a few records in flight or queued, as under
//     steady traffic) and the file is much larger than its live data,
//     copying the live records only. A
//     compaction that fails (no room for the copy) is tried again a
//     minute later, not at the next commit.
//   - On 32-bit ARM the file must fit a 2 GiB memory map: MaxBytes is at
//     most 512 MiB there, refused at Open otherwise.
//   - One process opens a store at a time: Open locks path.lock (and bbolt
//     the file itself); a second Open waits a second, then fails.
//   - The release before segments, opening a converted file again (an
//     update rolled back), finds its lane buckets gone and makes them
//     anew, empty: it sends what it appends itself, and the records in
//     segments wait for a release with segments, which sends them. Its
//     lanes' counts include those records, so its byte cap takes them
//     for its own: with a backlog of them it drops its own telemetry
//     sooner.
package outbox
