package kafka_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
)

// benchRecords is the size of the outbox BenchmarkKafkaDrain drains.
const benchRecords = 100000

// benchRecord is one of BenchmarkKafkaDrain's records: telemetry of the
// device, a 200-byte payload, the contracts' headers.
func benchRecord() outbox.Record {
	return outbox.Record{
		Lane: outbox.LaneTelemetry, Topic: contracts.TopicDeviceTelemetry, Key: []byte(device),
		Payload: make([]byte, 200),
		Headers: []outbox.Header{
			{Key: contracts.HeaderEventType, Value: []byte(contracts.TypeDeviceTelemetry)},
			{Key: contracts.HeaderCorrelationID, Value: []byte("0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6a")},
			{Key: contracts.HeaderVersion, Value: []byte(contracts.Version)},
		},
	}
}

// fillStore returns an outbox holding benchRecords records.
func fillStore(b *testing.B) *outbox.Store {
	box := openStore(b, b.TempDir())
	recs := make([]outbox.Record, 1000)
	for i := range recs {
		recs[i] = benchRecord()
	}
	for range benchRecords / len(recs) {
		if err := box.Append(context.Background(), recs...); err != nil {
			b.Fatal(err)
		}
	}
	return box
}

// BenchmarkKafkaDrain measures the uplink draining a pre-filled outbox of
// 100,000 records into an in-process cluster of 3 brokers (kfake), next
// to a bare franz-go producer with the same settings (idempotent, acks
// from all in-sync replicas, murmur2 key partitioning, the same batch
// limit) producing the same records from memory, in the same run; and
// the two ceilings of the uplink: the outbox handing the records out and
// acking them with nothing sent, and the uplink producing them from an
// outbox in memory. One iteration drains everything; it reports
// records/s and ns/record.
func BenchmarkKafkaDrain(b *testing.B) {
	b.Run("100k-records/uplink", func(b *testing.B) {
		for b.Loop() {
			box := fillStore(b)
			drainUplink(b, box, func() {
				for st := box.Stats(); st.Telemetry.Depth > 0 || st.Control.Depth > 0; st = box.Stats() {
					time.Sleep(time.Millisecond)
				}
			})
			box.Close() // each iteration's outbox goes at once, not at the end
		}
	})
	// The uplink's own pace: the same records from an outbox in memory
	// that costs next to nothing. What the uplink cannot pass with the
	// real outbox.
	b.Run("100k-records/uplink-memory-outbox", func(b *testing.B) {
		for b.Loop() {
			box := newMemoryOutbox(benchRecords)
			drainUplink(b, box, func() { <-box.drained })
		}
	})
	// The outbox's own pace, handing out and acking as the uplink does,
	// with nothing sent: what the uplink cannot pass either.
	b.Run("100k-records/outbox-TryNextBatch+Ack-only", func(b *testing.B) {
		for b.Loop() {
			box := fillStore(b)
			start := time.Now()
			ids := make([]outbox.ID, 0, kafka.DefaultConfig().Window)
			var batch outbox.Batch
			for {
				if err := box.TryNextBatch(&batch, kafka.DefaultConfig().Window, nil); err != nil {
					b.Fatal(err)
				}
				if len(batch.Entries) == 0 {
					break
				}
				ids = ids[:0]
				for _, e := range batch.Entries {
					ids = append(ids, e.ID)
				}
				box.Ack(ids...)
			}
			elapsed := time.Since(start)
			box.Close()
			b.ReportMetric(benchRecords/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/benchRecords, "ns/record")
		}
	})
	b.Run("100k-records/baseline-franz-go", func(b *testing.B) {
		for b.Loop() {
			c := newCluster(b)
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
				kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
				kgo.ProducerBatchMaxBytes(1_000_012))
			if err != nil {
				b.Fatal(err)
			}
			r := benchRecord()
			recs := make([]*kgo.Record, benchRecords)
			for i := range recs {
				hs := make([]kgo.RecordHeader, len(r.Headers))
				for j, h := range r.Headers {
					hs[j] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
				}
				recs[i] = &kgo.Record{Topic: contracts.TopicDeviceTelemetry, Key: r.Key, Value: r.Payload, Headers: hs}
			}
			var failed atomic.Int64
			start := time.Now()
			for _, rec := range recs {
				cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
					if err != nil {
						failed.Add(1)
					}
				})
			}
			if err := cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			cl.Close()
			c.Close()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d records failed", n)
			}
			b.ReportMetric(benchRecords/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/benchRecords, "ns/record")
		}
	})
}

// drainUplink runs an uplink on box into a new cluster until drained
// returns, and reports the records/s and ns/record of benchRecords.
func drainUplink(b *testing.B, box kafka.Outbox, drained func()) {
	c := newCluster(b)
	defer c.Close() // each iteration's cluster goes at once, not at the end
	up, err := kafka.New(kafka.Config{Brokers: c.ListenAddrs(), DeviceID: device}, box, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { up.Run(ctx); close(done) }()
	drained()
	elapsed := time.Since(start)
	cancel()
	<-done
	b.ReportMetric(benchRecords/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/benchRecords, "ns/record")
}

// memoryOutbox is an outbox in memory that hands out the same record
// over and over, for the uplink's own pace: it costs next to nothing.
type memoryOutbox struct {
	rec     outbox.Record
	total   int
	drained chan struct{} // closed once every record is acked

	mu       sync.Mutex
	next     int // records handed out
	acked    int
	appended []outbox.Record // by Append, handed out after the others
	wakes    []chan struct{} // of TryNextBatch calls that found nothing
}

func newMemoryOutbox(n int) *memoryOutbox {
	return &memoryOutbox{rec: benchRecord(), total: n, drained: make(chan struct{})}
}

func (m *memoryOutbox) TryNextBatch(b *outbox.Batch, max int, wake chan struct{}) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b.Entries = b.Entries[:0]
	for ; m.next < m.total+len(m.appended) && len(b.Entries) < max; m.next++ {
		rec := m.rec
		if m.next >= m.total {
			rec = m.appended[m.next-m.total]
		}
		b.Entries = append(b.Entries, outbox.Entry{ID: outbox.ID(m.next + 1), Record: rec})
	}
	if len(b.Entries) == 0 && wake != nil {
		m.wakes = append(m.wakes, wake)
	}
	return nil
}

// Ack counts the benchmark's records acked, not the uplink's own.
func (m *memoryOutbox) Ack(ids ...outbox.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	before := m.acked
	for _, id := range ids {
		if int(id) <= m.total {
			m.acked++
		}
	}
	if before < m.total && m.acked == m.total {
		close(m.drained)
	}
}

func (m *memoryOutbox) Release(ids ...outbox.ID) { panic("memoryOutbox: a record was released") }

func (m *memoryOutbox) Quarantine(id outbox.ID, reason string) error {
	panic("memoryOutbox: a record was quarantined: " + reason)
}

// Append queues recs after the records of the benchmark: the uplink's
// own status events.
func (m *memoryOutbox) Append(_ context.Context, recs ...outbox.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.appended = append(m.appended, recs...)
	for _, w := range m.wakes {
		close(w)
	}
	m.wakes = nil
	return nil
}

func (m *memoryOutbox) PutCursor(context.Context, string, []byte) error { return nil }

func (m *memoryOutbox) Cursor(string) ([]byte, bool, error) { return nil, false, nil }
