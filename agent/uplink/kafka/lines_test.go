package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// A flood of records Kafka cannot take: each is quarantined, and the log
// says so once every 30 s, not once a record.
func TestQuarantinesAreLoggedOnceAWhile(t *testing.T) {
	const n = 200
	const every = 30 * time.Second // the uplink's limit
	c := newCluster(t)
	box := openStore(t, t.TempDir())
	recs := make([]outbox.Record, n)
	for i := range recs {
		recs[i] = outbox.Record{Lane: outbox.LaneControl, Topic: "x", Key: []byte(device), Payload: fmt.Appendf(nil, "not json %d", i)}
	}
	if err := box.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	start := time.Now()
	startUplink(t, c, box, kafka.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	waitFor(t, 30*time.Second, "every record to be quarantined", func() bool { return box.Stats().Quarantined == n })
	elapsed := time.Since(start)
	lines := strings.Count(logs.String(), `msg="kafka: record quarantined"`)
	if most := 1 + int(elapsed/every); lines < 1 || lines > most {
		t.Errorf("%d records quarantined in %v: %d lines; want 1 to %d", n, elapsed, lines, most)
	}
}
