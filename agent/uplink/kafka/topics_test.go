package kafka_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
)

// renamed are topic names of a backend that does not use the contracts'.
var renamed = kafka.Topics{
	Commands: "acme.cmd", Responses: "acme.rsp", Events: "acme.evt", Telemetry: "acme.tlm",
	Certificates: "acme.crt", Users: "acme.usr", Integrations: "acme.int", DLQ: "acme.dlq",
}

// eventRecord is an outbox record of event type et with an opaque payload.
func eventRecord(et contracts.EventType) outbox.Record {
	return outbox.Record{
		Lane: outbox.LaneControl, Topic: "ignored/" + string(et), Key: []byte(device), Payload: []byte(`{"test":"` + string(et) + `"}`),
		Headers: []outbox.Header{
			{Key: contracts.HeaderEventType, Value: []byte(et)},
			{Key: contracts.HeaderCorrelationID, Value: []byte("corr-" + string(et))},
			{Key: contracts.HeaderVersion, Value: []byte(contracts.Version)},
		},
	}
}

// TestRenamedTopics: with every topic renamed, the uplink reads its
// commands from the renamed commands topic and produces each event type
// to the renamed topic of its contracts' topic, and nothing to the
// contracts' names.
func TestRenamedTopics(t *testing.T) {
	names := []string{renamed.Commands, renamed.Responses, renamed.Events, renamed.Telemetry,
		renamed.Certificates, renamed.Users, renamed.Integrations, renamed.DLQ}
	c := newCluster(t, kfake.SeedTopics(partitions, names...))
	box := openStore(t, t.TempDir())
	a := newAnswerer(t, box)
	startUplink(t, c, box, kafka.Config{Topics: renamed, Logger: testLogger(t)}, a.handle)
	cursor := "kafka/" + renamed.Commands + "/" + strconv.Itoa(int(kafka.PartitionFor([]byte(device), partitions)))
	waitFor(t, 30*time.Second, "the cursor of "+cursor, func() bool {
		_, ok, err := box.Cursor(cursor)
		return ok && err == nil
	})

	cmd, corr := command(t, device)
	cmd.Topic = renamed.Commands
	if err := newProducer(t, c).ProduceSync(context.Background(), cmd).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := map[contracts.EventType]string{
		contracts.TypeDeviceTelemetry:         renamed.Telemetry,
		contracts.TypeCertificateCSRCreated:   renamed.Certificates,
		contracts.TypeUserCreated:             renamed.Users,
		contracts.TypeIntegrationMQTTReceived: renamed.Integrations,
		contracts.TypeSystemDLQ:               renamed.DLQ,
	}
	for et := range want {
		if err := box.Append(context.Background(), eventRecord(et)); err != nil {
			t.Fatal(err)
		}
	}
	want[contracts.TypeDeviceResponseRPC] = renamed.Responses // the answer to the command
	want[contracts.TypeDeviceStatusChanged] = renamed.Events  // the uplink's online status
	waitFor(t, 30*time.Second, "the command answered", func() bool { return a.ran() == 1 })

	got := map[contracts.EventType]string{}
	for _, r := range newReader(t, c, names).read(t, len(want), 300*time.Millisecond, 30*time.Second) {
		et := contracts.EventType(header(r, contracts.HeaderEventType))
		if et == contracts.TypeDeviceResponseRPC && header(r, contracts.HeaderCorrelationID) != corr {
			t.Errorf("answer with correlationId %q; want %q", header(r, contracts.HeaderCorrelationID), corr)
		}
		got[et] = r.Topic
	}
	for et, topic := range want {
		if got[et] != topic {
			t.Errorf("%s went to %q; want %q", et, got[et], topic)
		}
	}
	if stray := newReader(t, c, topics).read(t, 0, 300*time.Millisecond, 10*time.Second); len(stray) > 0 {
		t.Errorf("%d records on the contracts' topic names, the first on %s; want none", len(stray), stray[0].Topic)
	}
}

// TestDefaultCompressionIsGzip: the batches the uplink produces by
// default are gzip, which a stock kafkajs reads; Compression chooses
// another codec.
func TestDefaultCompressionIsGzip(t *testing.T) {
	for _, tc := range []struct {
		compression string
		want        uint8 // the codec of the batch attributes: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
	}{
		{"", 1},
		{kafka.CompressionNone, 0},
		{kafka.CompressionGzip, 1},
		{kafka.CompressionSnappy, 2},
		{kafka.CompressionLZ4, 3},
		{kafka.CompressionZstd, 4},
	} {
		t.Run("compression="+tc.compression, func(t *testing.T) {
			c := newCluster(t)
			box := openStore(t, t.TempDir())
			startUplink(t, c, box, kafka.Config{Compression: tc.compression, Logger: testLogger(t)}, nil)
			const n = 200
			if err := box.Append(context.Background(), testRecords(n, device)...); err != nil {
				t.Fatal(err)
			}
			got := newReader(t, c, produced).read(t, n+1, 300*time.Millisecond, 30*time.Second)
			if len(got) < n+1 {
				t.Fatalf("read %d records; want %d and the online status", len(got), n+1)
			}
			for _, r := range got {
				if codec := r.Attrs.CompressionType(); codec != tc.want {
					t.Fatalf("record on %s/%d at %d came in a batch of codec %d; want %d", r.Topic, r.Partition, r.Offset, codec, tc.want)
				}
			}
		})
	}
}
