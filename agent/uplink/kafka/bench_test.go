package kafka_test

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
)

// benchRecords is the size of the outbox BenchmarkKafkaDrain drains.
const benchRecords = 100000

// benchSet is how many distinct records BenchmarkKafkaDrain's records
// cycle through: 1,000 records of about 450 bytes, more than gzip's 32 KiB
// window, so that no batch compresses better than real telemetry would.
const benchSet = 1000

// benchRecordSet returns benchSet records as a weather sensor's reads make
// them: a device.telemetry event of 3 readings whose values wander, read
// a second apart, each with its own correlationId, and the contracts'
// headers.
func benchRecordSet(b *testing.B) []outbox.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	temp, hum, press := 21.5, 45.0, 1013.2
	out := make([]outbox.Record, benchSet)
	for i := range out {
		temp, hum, press = temp+rng.NormFloat64()*0.05, hum+rng.NormFloat64()*0.2, press+rng.NormFloat64()*0.1
		at = at.Add(time.Second)
		m := contracts.NewDeviceTelemetry(contracts.DeviceOrigin(device), contracts.DeviceTelemetryPayload{DeviceID: device, Readings: []contracts.Reading{
			{Sensor: "weather", Metric: "temperature", Value: math.Round(temp*100) / 100, Unit: "Cel", At: at},
			{Sensor: "weather", Metric: "humidity", Value: math.Round(hum*10) / 10, Unit: "%RH", At: at},
			{Sensor: "weather", Metric: "pressure", Value: math.Round(press*100) / 100, Unit: "hPa", At: at},
		}})
		payload, err := contracts.Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = outbox.Record{
			Lane: outbox.LaneTelemetry, Topic: contracts.TopicDeviceTelemetry, Key: []byte(device), Payload: payload,
			Headers: []outbox.Header{
				{Key: contracts.HeaderEventType, Value: []byte(m.EventType)},
				{Key: contracts.HeaderCorrelationID, Value: []byte(m.CorrelationID)},
				{Key: contracts.HeaderVersion, Value: []byte(m.Version)},
			},
		}
	}
	return out
}

// fillStore returns an outbox holding benchRecords records of recs.
func fillStore(b *testing.B, recs []outbox.Record) *outbox.Store {
	box := openStore(b, b.TempDir())
	for range benchRecords / len(recs) {
		if err := box.Append(context.Background(), recs...); err != nil {
			b.Fatal(err)
		}
	}
	return box
}

// benchCodecs are the codecs BenchmarkKafkaDrain compares: the two that
// a stock kafkajs reads, the default first.
var benchCodecs = []string{kafka.CompressionGzip, kafka.CompressionNone}

// BenchmarkKafkaDrain measures the uplink draining a pre-filled outbox of
// 100,000 records into an in-process cluster of 3 brokers (kfake), next
// to a bare franz-go producer with the same settings (idempotent, acks
// from all in-sync replicas, murmur2 key partitioning, the same batch
// limit and compression) producing the same records from memory, in the
// same run; once per codec of benchCodecs. With the default codec, the
// two ceilings of the uplink too: the outbox handing the records out and
// acking them with nothing sent, and the uplink producing them from an
// outbox in memory. One iteration drains everything; it reports
// records/s and ns/record, cpu-ns/record (the process's CPU time, user
// and system, getrusage: kfake's share included) and wire-B/record (the
// record batches' bytes in the produce requests, compressed as sent).
func BenchmarkKafkaDrain(b *testing.B) {
	recs := benchRecordSet(b)
	for _, codec := range benchCodecs {
		group := "100k-records-" + codec
		b.Run(group+"/uplink", func(b *testing.B) {
			for b.Loop() {
				box := fillStore(b, recs)
				drainUplink(b, box, codec, func() {
					for st := box.Stats(); st.Telemetry.Depth > 0 || st.Control.Depth > 0; st = box.Stats() {
						time.Sleep(time.Millisecond)
					}
				})
				box.Close() // each iteration's outbox goes at once, not at the end
			}
		})
		if codec == kafka.DefaultConfig().Compression {
			benchCeilings(b, group, recs)
		}
		b.Run(group+"/baseline-franz-go", func(b *testing.B) {
			for b.Loop() {
				benchBaseline(b, codec, recs)
			}
		})
	}
}

// benchCeilings runs the uplink's two ceilings in group.
func benchCeilings(b *testing.B, group string, recs []outbox.Record) {
	// The uplink's own pace: the same records from an outbox in memory
	// that costs next to nothing. What the uplink cannot pass with the
	// real outbox.
	b.Run(group+"/uplink-memory-outbox", func(b *testing.B) {
		for b.Loop() {
			box := newMemoryOutbox(recs, benchRecords)
			drainUplink(b, box, kafka.DefaultConfig().Compression, func() { <-box.drained })
		}
	})
	// The outbox's own pace, handing out and acking as the uplink does,
	// with nothing sent: what the uplink cannot pass either.
	b.Run(group+"/outbox-TryNextBatch+Ack-only", func(b *testing.B) {
		for b.Loop() {
			box := fillStore(b, recs)
			m := startMeasure(b, nil)
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
			m.report()
			box.Close()
		}
	})
}

// benchBaseline produces benchRecords records of set from memory with a bare
// franz-go producer compressing with codec.
func benchBaseline(b *testing.B, codec string, set []outbox.Record) {
	c := newCluster(b)
	defer c.Close() // each iteration's cluster goes at once, not at the end
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerBatchMaxBytes(1_000_012),
		kgo.ProducerBatchCompression(kafka.Codec(codec)))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, benchRecords)
	for i := range recs {
		r := set[i%len(set)]
		hs := make([]kgo.RecordHeader, len(r.Headers))
		for j, h := range r.Headers {
			hs[j] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
		recs[i] = &kgo.Record{Topic: contracts.TopicDeviceTelemetry, Key: r.Key, Value: r.Payload, Headers: hs}
	}
	var failed atomic.Int64
	m := startMeasure(b, c)
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
	m.report()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d records failed", n)
	}
}

// drainUplink runs an uplink compressing with codec on box into a new
// cluster until drained returns, and reports the metrics of benchRecords.
func drainUplink(b *testing.B, box kafka.Outbox, codec string, drained func()) {
	c := newCluster(b)
	defer c.Close() // each iteration's cluster goes at once, not at the end
	up, err := kafka.New(kafka.Config{Brokers: c.ListenAddrs(), DeviceID: device, Compression: codec}, box, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	m := startMeasure(b, c)
	go func() { up.Run(ctx); close(done) }()
	drained()
	m.report()
	cancel()
	<-done
}

// measure is one drain's measurement of benchRecords records.
type measure struct {
	b     *testing.B
	start time.Time
	cpu   time.Duration
	wire  *atomic.Int64 // nil without a cluster
}

// startMeasure starts measuring; with a cluster c, it counts the bytes
// of the record batches produced to c.
func startMeasure(b *testing.B, c *kfake.Cluster) *measure {
	m := &measure{b: b, start: time.Now(), cpu: cpuTime(b)}
	if c != nil {
		m.wire = new(atomic.Int64)
		c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
			for _, t := range req.(*kmsg.ProduceRequest).Topics {
				for _, p := range t.Partitions {
					m.wire.Add(int64(len(p.Records)))
				}
			}
			return nil, nil, false // counted, not handled: the cluster handles it and keeps the function
		})
	}
	return m
}

// report reports the metrics since startMeasure.
func (m *measure) report() {
	elapsed, cpu := time.Since(m.start), cpuTime(m.b)-m.cpu
	m.b.ReportMetric(benchRecords/elapsed.Seconds(), "records/s")
	m.b.ReportMetric(float64(elapsed.Nanoseconds())/benchRecords, "ns/record")
	m.b.ReportMetric(float64(cpu.Nanoseconds())/benchRecords, "cpu-ns/record")
	if m.wire != nil {
		m.b.ReportMetric(float64(m.wire.Load())/benchRecords, "wire-B/record")
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memoryOutbox is an outbox in memory that hands out the same records
// over and over, for the uplink's own pace: it costs next to nothing.
type memoryOutbox struct {
	recs    []outbox.Record
	total   int
	drained chan struct{} // closed once every record is acked

	mu       sync.Mutex
	next     int // records handed out
	acked    int
	appended []outbox.Record // by Append, handed out after the others
	wakes    []chan struct{} // of TryNextBatch calls that found nothing
}

// newMemoryOutbox returns an outbox that hands out n records, cycling
// through recs.
func newMemoryOutbox(recs []outbox.Record, n int) *memoryOutbox {
	return &memoryOutbox{recs: recs, total: n, drained: make(chan struct{})}
}

func (m *memoryOutbox) TryNextBatch(b *outbox.Batch, max int, wake chan struct{}) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b.Entries = b.Entries[:0]
	for ; m.next < m.total+len(m.appended) && len(b.Entries) < max; m.next++ {
		var rec outbox.Record
		if m.next < m.total {
			rec = m.recs[m.next%len(m.recs)]
		} else {
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
