package outbox_test

// Benchmarks of the outbox's targets. Each runs on real files under
// b.TempDir() (the first one logs which file system that is: results from
// tmpfs say nothing about fsync) and is named so that internal/benchtable
// pairs it with a baseline measured in the same run: a sibling whose last
// name element starts with "baseline-".
//
// Records are telemetry as the agent stores it: one topic, an 8-byte key
// (the device), a 200-byte payload.
//
// BenchmarkAppend runs for b.N records like any benchmark. The heavy ones
// (WriteAmplification, Trickle, Drain, Memory) do a fixed amount of work
// once per call and ignore b.N; run them with -benchtime=1x (the Makefile
// does). They report ns/op, B/op and allocs/op per record themselves
// (Trickle: ns/op is the mean Append latency), so that -benchtime does not
// change the numbers. -outbox.records sets their size (default 1,000,000).

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iot-hub/agent/agent/outbox"
)

var benchRecords = flag.Int("outbox.records", 1_000_000,
	"records in each of the heavy outbox benchmarks (WriteAmplification, Drain, Memory)")

const (
	benchAppenders   = 64  // concurrent appenders: sensors, RPC handlers, status
	benchPayloadSize = 200 // bytes of one telemetry payload
	benchWindow      = 64  // entries per Next: the uplink's window
	benchMaxBytes    = 512 << 20
	benchTopic       = "iot/v1/devices/gw-0042/telemetry"
)

// benchPayload is the payload of every record; Append copies it.
var benchPayload = func() []byte {
	p := make([]byte, benchPayloadSize)
	for i := range p {
		p[i] = byte(i*131 + 7)
	}
	return p
}()

// benchRecord is a telemetry record of device dev.
func benchRecord(dev int) outbox.Record {
	return outbox.Record{
		Lane:    outbox.LaneTelemetry,
		Topic:   benchTopic,
		Key:     binary.BigEndian.AppendUint64(nil, uint64(dev)),
		Payload: benchPayload,
	}
}

// benchBoltValue is what the bbolt baselines store for a record of device
// dev: its key and payload (208 bytes; the outbox stores about 230).
func benchBoltValue(dev int) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(dev)), benchPayload...)
}

// benchCount names a record count: 1M, 10k, 1500.
func benchCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// benchOpen opens a store on a new file under b.TempDir(), closed at
// cleanup. A zero MaxBytes becomes 512 MiB, room for a million records.
func benchOpen(b *testing.B, cfg outbox.Config) *outbox.Store {
	b.Helper()
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = benchMaxBytes
	}
	s, err := outbox.Open(filepath.Join(b.TempDir(), "outbox.db"), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	return s
}

var benchBucket = []byte("records")

// benchOpenBolt opens a plain bbolt file (default options) with one bucket
// under b.TempDir(), closed at cleanup.
func benchOpenBolt(b *testing.B) *bolt.DB {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "bolt.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Error(err)
		}
	})
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket(benchBucket)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return db
}

// benchPut puts value under the bucket's next sequence number and returns
// the key.
func benchPut(bk *bolt.Bucket, value []byte) ([]byte, error) {
	seq, err := bk.NextSequence()
	if err != nil {
		return nil, err
	}
	k := binary.BigEndian.AppendUint64(nil, seq)
	return k, bk.Put(k, value)
}

// benchConcurrent stores n records from g goroutines, perCall records per
// call: goroutine i makes its calls with call := newCall(i), call(k)
// storing k records. It returns the number of calls and the first error.
func benchConcurrent(n, g, perCall int, newCall func(i int) func(k int) error) (int64, error) {
	var claimed, calls atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, g)
	for i := range g {
		call := newCall(i)
		wg.Go(func() {
			for {
				end := claimed.Add(int64(perCall))
				start := end - int64(perCall)
				if start >= int64(n) {
					return
				}
				calls.Add(1)
				if err := call(int(min(end, int64(n)) - start)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return calls.Load(), <-errs
}

// benchAppend appends n records to s from g goroutines, perCall records
// per Append call.
func benchAppend(ctx context.Context, s *outbox.Store, n, g, perCall int) error {
	_, err := benchConcurrent(n, g, perCall, func(i int) func(int) error {
		batch := make([]outbox.Record, perCall)
		for j := range batch {
			batch[j] = benchRecord(i)
		}
		return func(k int) error { return s.Append(ctx, batch[:k]...) }
	})
	return err
}

// benchFill appends n records quickly, 1000 per Append from 2 goroutines,
// for benchmarks that measure something else.
func benchFill(b *testing.B, s *outbox.Store, n int) {
	b.Helper()
	if err := benchAppend(context.Background(), s, n, 2, 1000); err != nil {
		b.Fatal(err)
	}
}

// benchBoltUpdate stores n records in db from g goroutines, perCall
// records per db.Update, and returns the number of Updates.
func benchBoltUpdate(db *bolt.DB, n, g, perCall int) (int64, error) {
	return benchConcurrent(n, g, perCall, func(i int) func(int) error {
		value := benchBoltValue(i)
		return func(k int) error {
			return db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(benchBucket)
				for range k {
					if _, err := benchPut(bk, value); err != nil {
						return err
					}
				}
				return nil
			})
		}
	})
}

// benchDrain hands out n entries, benchWindow at a time, acking each batch
// as soon as it has it: an uplink whose broker is always there.
func benchDrain(ctx context.Context, s *outbox.Store, n int) error {
	ids := make([]outbox.ID, 0, benchWindow)
	for got := 0; got < n; {
		es, err := s.Next(ctx, benchWindow)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		s.Ack(ids...)
		got += len(es)
	}
	return nil
}

// benchWaitBytes waits until the telemetry bytes of s, which change only
// when a commit does, satisfy done: acks are deleted asynchronously.
func benchWaitBytes(b *testing.B, s *outbox.Store, done func(int64) bool) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for !done(s.Stats().Telemetry.Bytes) {
		if time.Now().After(deadline) {
			b.Fatalf("acked entries not deleted after a minute: %+v", s.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// benchPhase measures one fixed-size phase of a heavy benchmark: wall
// time, allocations and (where /proc/self/io can be read) bytes written.
type benchPhase struct {
	start time.Time
	mem   runtime.MemStats
	io    benchWritten
	rate  bool // report records/s
}

// benchWritten is what a phase wrote (see benchIO); ok is false when
// /proc/self/io cannot be read.
type benchWritten struct {
	writeBytes, wchar int64
	ok                bool
}

func benchReadIO() benchWritten {
	w, c, err := benchIO()
	return benchWritten{writeBytes: w, wchar: c, ok: err == nil}
}

func benchStart() *benchPhase {
	p := &benchPhase{io: benchReadIO(), rate: true}
	runtime.ReadMemStats(&p.mem)
	p.start = time.Now()
	return p
}

// stop reports the phase per record (ns/op, B/op, allocs/op) and,
// unless rate is false, its records/s; it returns the time taken and the bytes written.
func (p *benchPhase) stop(b *testing.B, records int) (time.Duration, benchWritten) {
	elapsed := time.Since(p.start)
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	io := benchReadIO()
	io.ok = io.ok && p.io.ok
	io.writeBytes -= p.io.writeBytes
	io.wchar -= p.io.wchar
	n := float64(records)
	b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/op")
	b.ReportMetric(float64(mem.TotalAlloc-p.mem.TotalAlloc)/n, "B/op")
	b.ReportMetric(float64(mem.Mallocs-p.mem.Mallocs)/n, "allocs/op")
	if p.rate {
		b.ReportMetric(n/elapsed.Seconds(), "records/s")
	}
	return elapsed, io
}

// benchReportCommits reports commits and fsyncs per 1000 records; bbolt
// fdatasyncs twice per commit (the pages, then the meta page), and once
// more when the file grows, which is not counted here.
func benchReportCommits(b *testing.B, records int, commits int64) {
	b.ReportMetric(float64(commits)*1000/float64(records), "commits/1000rec")
	b.ReportMetric(float64(2*commits)*1000/float64(records), "fsyncs/1000rec")
}

// benchReportWriteAmp reports the bytes written per payload byte:
// writeamp from the bytes handed to write system calls (wchar), which is
// what bbolt writes, and writeamp-write_bytes from the kernel's
// write_bytes, which counts whole large folios (see benchIO).
func benchReportWriteAmp(b *testing.B, records int, w benchWritten) {
	if !w.ok {
		return
	}
	payload := float64(records * benchPayloadSize)
	b.ReportMetric(float64(w.wchar)/payload, "writeamp")
	b.ReportMetric(float64(w.wchar)/float64(records), "written-B/rec")
	b.ReportMetric(float64(w.writeBytes)/payload, "writeamp-write_bytes")
}

var benchFSOnce sync.Once

// BenchmarkAppend: group commit. 64 goroutines append one record per call
// (and, in the second group, 4 records per call), next to a plain bbolt
// file with one db.Update per call from 64 goroutines as well. An op is
// one record.
func BenchmarkAppend(b *testing.B) {
	for _, perCall := range []int{1, 4} {
		group, baseline := fmt.Sprintf("concurrent-%d", benchAppenders), "baseline-bolt.Update-per-record"
		if perCall > 1 {
			group = fmt.Sprintf("concurrent-%d-%drec-per-call", benchAppenders, perCall)
			baseline = "baseline-bolt.Update-per-call"
		}
		b.Run(group+"/outbox", func(b *testing.B) {
			benchFSOnce.Do(func() { b.Logf("b.TempDir() is on %s", benchFSType(b.TempDir())) })
			s := benchOpen(b, outbox.Config{})
			before := s.Stats().Commits
			b.ResetTimer()
			if err := benchAppend(context.Background(), s, b.N, benchAppenders, perCall); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			benchReportCommits(b, b.N, int64(s.Stats().Commits-before))
		})
		b.Run(group+"/"+baseline, func(b *testing.B) {
			db := benchOpenBolt(b)
			b.ResetTimer()
			updates, err := benchBoltUpdate(db, b.N, benchAppenders, perCall)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			benchReportCommits(b, b.N, updates)
		})
	}
}

// BenchmarkWriteAmplification: the bytes written per payload byte, from
// /proc/self/io (writeamp: bytes written by system calls; also
// writeamp-write_bytes, the kernel's write_bytes, see benchIO), while
// -outbox.records records are appended and acked. The outbox gets them from 64 goroutines appending one record per
// call while one uplink drains them concurrently (Next 64, Ack); the
// measure ends after Close has committed the last deletions. The
// baseline is a plain bbolt file (default options) written by one
// goroutine in lockstep, each db.Update deleting the previous 64 records
// and putting 64 new ones: the outbox's steady state with perfect
// batching and none of its bookkeeping.
//
// The trickle case is BenchmarkTrickle.
func BenchmarkWriteAmplification(b *testing.B) {
	if _, _, err := benchIO(); err != nil {
		b.Skip("cannot read bytes written:", err)
	}
	n := *benchRecords
	group := fmt.Sprintf("%s-records-%d-appenders", benchCount(n), benchAppenders)
	b.Run(group+"/outbox", func(b *testing.B) {
		s := benchOpen(b, outbox.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		before := s.Stats().Commits
		p := benchStart()
		drained := make(chan error, 1)
		go func() { drained <- benchDrain(ctx, s, n) }()
		if err := benchAppend(ctx, s, n, benchAppenders, 1); err != nil {
			cancel()
			<-drained
			b.Fatal(err)
		}
		if err := <-drained; err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		_, written := p.stop(b, n)
		st := s.Stats() // Commits and FileSize are still there after Close
		benchReportWriteAmp(b, n, written)
		benchReportCommits(b, n, int64(st.Commits-before))
		b.ReportMetric(float64(st.FileSize)/(1<<20), "file-MiB")
	})
	b.Run(group+"/baseline-bolt.Update-per-64-records", func(b *testing.B) {
		db := benchOpenBolt(b)
		value := benchBoltValue(1)
		var prev [][]byte
		p := benchStart()
		var updates int64
		for done := 0; done < n || len(prev) > 0; {
			k := min(benchWindow, n-done)
			err := db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(benchBucket)
				for _, key := range prev {
					if err := bk.Delete(key); err != nil {
						return err
					}
				}
				prev = prev[:0]
				for range k {
					key, err := benchPut(bk, value)
					if err != nil {
						return err
					}
					prev = append(prev, key)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			updates++
			done += k
		}
		_, written := p.stop(b, n)
		benchReportWriteAmp(b, n, written)
		benchReportCommits(b, n, updates)
		if err := db.View(func(tx *bolt.Tx) error {
			b.ReportMetric(float64(tx.Size())/(1<<20), "file-MiB")
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkTrickle: a trickle of telemetry, 10 records a second for 3 s,
// each appended by its own goroutine (Append blocks until the commit), with
// Config.FlushInterval = 1 s, next to a plain bbolt file with one
// db.Update per record. It reports commits/s (the outbox's target is at
// most one, 1/FlushInterval) and, as ns/op, the mean Append latency. The
// clock is real: FlushInterval uses real timers.
func BenchmarkTrickle(b *testing.B) {
	const (
		rate     = 10
		duration = 3 * time.Second
		records  = int(rate * duration / time.Second)
	)
	group := fmt.Sprintf("%drec-per-s-%v", rate, duration)
	trickle := func(b *testing.B, appendOne func() error) time.Duration {
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		var wg sync.WaitGroup
		var latency atomic.Int64
		errs := make(chan error, records)
		p := benchStart()
		for i := range records {
			if i > 0 {
				<-tick.C
			}
			wg.Go(func() {
				t := time.Now()
				if err := appendOne(); err != nil {
					errs <- err
				}
				latency.Add(int64(time.Since(t)))
			})
		}
		wg.Wait()
		elapsed, written := p.stop(b, records)
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(latency.Load())/float64(records), "ns/op")
		benchReportWriteAmp(b, records, written)
		return elapsed
	}
	b.Run(group+"/outbox-FlushInterval-1s", func(b *testing.B) {
		s := benchOpen(b, outbox.Config{Settings: outbox.Settings{FlushInterval: time.Second}})
		before := s.Stats().Commits
		rec := benchRecord(1)
		elapsed := trickle(b, func() error { return s.Append(context.Background(), rec) })
		commits := s.Stats().Commits - before
		b.ReportMetric(float64(commits)/elapsed.Seconds(), "commits/s")
		b.ReportMetric(float64(records)/float64(commits), "records/commit")
	})
	b.Run(group+"/baseline-bolt.Update-per-record", func(b *testing.B) {
		db := benchOpenBolt(b)
		value := benchBoltValue(1)
		elapsed := trickle(b, func() error {
			return db.Update(func(tx *bolt.Tx) error {
				_, err := benchPut(tx.Bucket(benchBucket), value)
				return err
			})
		})
		b.ReportMetric(float64(records)/elapsed.Seconds(), "commits/s")
		b.ReportMetric(1, "records/commit")
	})
}

// BenchmarkDrain: an uplink draining a backlog of -outbox.records records,
// Next(ctx, 64) then Ack, until the last deletion is committed, next to
// appending the same records to the same store (64 goroutines, one record
// per call) in the same run. The drain reports drain/append, the ratio of
// the two rates (target at least 0.5).
func BenchmarkDrain(b *testing.B) {
	n := *benchRecords
	group := fmt.Sprintf("%s-records", benchCount(n))
	s := benchOpen(b, outbox.Config{})
	var appendRate float64
	b.Run(group+"/baseline-outbox.Append-64-appenders", func(b *testing.B) {
		before := s.Stats().Commits
		p := benchStart()
		if err := benchAppend(context.Background(), s, n, benchAppenders, 1); err != nil {
			b.Fatal(err)
		}
		elapsed, _ := p.stop(b, n)
		appendRate = float64(n) / elapsed.Seconds()
		benchReportCommits(b, n, int64(s.Stats().Commits-before))
	})
	b.Run(group+"/outbox.Next64+Ack", func(b *testing.B) {
		backlog := s.Stats().Telemetry.Depth
		if backlog == 0 { // the append benchmark did not run
			benchFill(b, s, n)
			backlog = n
		}
		before := s.Stats().Commits
		p := benchStart()
		if err := benchDrain(context.Background(), s, backlog); err != nil {
			b.Fatal(err)
		}
		benchWaitBytes(b, s, func(left int64) bool { return left == 0 })
		elapsed, _ := p.stop(b, backlog)
		benchReportCommits(b, backlog, int64(s.Stats().Commits-before))
		if appendRate > 0 {
			b.ReportMetric(float64(backlog)/elapsed.Seconds()/appendRate, "drain/append")
		}
	})
}

// BenchmarkMemory: resident anonymous memory (RssAnon of
// /proc/self/status) with a backlog of -outbox.records records, next to a
// backlog of 10,000 in the same run. Each store is filled, then a window
// of 1024 entries is handed out (Next 64 at a time) and acked, and the
// deletion committed; then runtime.GC and debug.FreeOSMemory run and the
// store, still open, is measured. growth-MiB is the difference (target at
// most 5 MiB); HeapInuse-MiB tells how much of it is Go heap. The same
// backlog again on a store of two uplinks, one out while the other
// hands out and acks every record: what the store remembers of acks
// waiting for the other uplink must not grow with the backlog. ns/op,
// B/op and allocs/op are those of filling the store (1000 records per
// Append) and handing out the window, per record.
func BenchmarkMemory(b *testing.B) {
	if _, err := benchRssAnonKB(); err != nil {
		b.Skip("cannot read RssAnon:", err)
	}
	const small, window = 10_000, 1024
	large := *benchRecords
	// measure returns RssAnon and HeapInuse, in MiB, with a backlog of n.
	measure := func(b *testing.B, n int) (rss, heap float64) {
		s := benchOpen(b, outbox.Config{})
		defer s.Close()
		p := benchStart()
		p.rate = false
		benchFill(b, s, n)
		ctx := context.Background()
		var ids []outbox.ID
		for len(ids) < min(window, n) {
			es, err := s.Next(ctx, benchWindow)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range es {
				ids = append(ids, e.ID)
			}
		}
		full := s.Stats().Telemetry.Bytes
		s.Ack(ids...)
		benchWaitBytes(b, s, func(left int64) bool { return left < full })
		p.stop(b, n)
		return benchResident(b)
	}
	report := func(b *testing.B, rss, heap float64) {
		b.ReportMetric(rss, "RssAnon-MiB")
		b.ReportMetric(heap, "HeapInuse-MiB")
	}
	var base float64
	b.Run(fmt.Sprintf("backlog/baseline-%s-records", benchCount(small)), func(b *testing.B) {
		rss, heap := measure(b, small)
		report(b, rss, heap)
		base = rss
	})
	b.Run(fmt.Sprintf("backlog/%s-records", benchCount(large)), func(b *testing.B) {
		if base == 0 { // the baseline did not run
			base, _ = measure(b, small)
		}
		rss, heap := measure(b, large)
		report(b, rss, heap)
		b.ReportMetric(rss-base, "growth-MiB")
	})
	// Two uplinks, one out: the other hands out and acks every record,
	// which all stay for the one out. What the store keeps in memory of
	// the acks must not grow with them.
	b.Run(fmt.Sprintf("backlog/%s-records-two-uplinks-one-out", benchCount(large)), func(b *testing.B) {
		if base == 0 {
			base, _ = measure(b, small)
		}
		s := benchOpen(b, outbox.Config{Uplinks: []string{"up", "out"}})
		defer s.Close()
		p := benchStart()
		p.rate = false
		benchFill(b, s, large)
		up := s.View("up")
		for acked := 0; acked < large; {
			es, err := up.Next(context.Background(), benchWindow)
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]outbox.ID, len(es))
			for i, e := range es {
				ids[i] = e.ID
			}
			up.Ack(ids...)
			acked += len(es)
		}
		deadline := time.Now().Add(time.Minute)
		for s.Uplinks()[0].Queued > 0 || s.Stats().Commits == 0 {
			if time.Now().After(deadline) {
				b.Fatalf("the acks not settled after a minute: %+v", s.Uplinks())
			}
			time.Sleep(10 * time.Millisecond)
		}
		p.stop(b, large)
		rss, heap := benchResident(b)
		report(b, rss, heap)
		b.ReportMetric(rss-base, "growth-MiB")
	})
}

// benchResident collects the garbage, returns the memory it can to the
// system, and returns RssAnon and HeapInuse, in MiB.
func benchResident(b *testing.B) (rss, heap float64) {
	runtime.GC()
	debug.FreeOSMemory()
	kb, err := benchRssAnonKB()
	if err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(kb) / 1024, float64(ms.HeapInuse) / (1 << 20)
}
