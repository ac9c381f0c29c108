package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/contracts"
)

func openBox(t *testing.T) *outbox.Store {
	t.Helper()
	box, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	return box
}

func localRecord(i int) outbox.Record {
	return record.Of(outbox.LaneTelemetry, "iot/v1/devices/gw-7/events", "gw-7", record.Head{EventType: contracts.TypeIntegrationMQTTReceived, CorrelationID: fmt.Sprint("c-", i)}, fmt.Appendf(nil, `{"n":%d}`, i))
}

// TestCoalescerSharesOneCommit: records appended by many callers within
// the window are stored by one commit, and each caller returns once its
// record is durable.
func TestCoalescerSharesOneCommit(t *testing.T) {
	box := openBox(t)
	c := newCoalescer(box, 200*time.Millisecond, 256, 1<<20)
	before := box.Stats().Commits
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 { // one at a time, as devices' messages come: apart, each would commit alone
		wg.Go(func() { errs <- c.Append(context.Background(), localRecord(i)) })
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if commits := box.Stats().Commits - before; commits != 1 {
		t.Errorf("20 appends within the window took %d commits; want 1", commits)
	}
	entries, err := box.TryNext(100, nil)
	if err != nil || len(entries) != 20 {
		t.Fatalf("TryNext = %d entries, %v; want the 20 appended", len(entries), err)
	}
}

// TestCoalescerFlushesAFullGroupAtOnce: a group that reaches its count,
// or its bytes, goes into the outbox without waiting for the window.
func TestCoalescerFlushesAFullGroupAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name            string
		records, nbytes int
	}{{"records", 4, 1 << 20}, {"bytes", 256, 4 * len(`{"n":0}`)}} {
		t.Run(tc.name, func(t *testing.T) {
			box := openBox(t)
			c := newCoalescer(box, time.Hour, tc.records, tc.nbytes)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					if err := c.Append(ctx, localRecord(i)); err != nil {
						t.Errorf("append %d: %v; want it stored with a full group, not after the hour's window", i, err)
					}
				})
			}
			wg.Wait()
			if depth := box.Stats().Telemetry.Depth; depth != 4 {
				t.Errorf("telemetry depth %d; want 4", depth)
			}
		})
	}
}

// TestCoalescerGivesUpWithItsContext: a caller whose context ends before
// the group is stored is told so.
func TestCoalescerGivesUpWithItsContext(t *testing.T) {
	c := newCoalescer(openBox(t), time.Hour, 256, 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Append(ctx, localRecord(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("append with a context that ends first = %v; want context.DeadlineExceeded", err)
	}
}

// readingsOf is sensor's readings, n of them.
func readingsOf(sensor string, n int) []contracts.Reading {
	rs := make([]contracts.Reading, n)
	for i := range rs {
		rs[i] = contracts.Reading{Sensor: sensor, Metric: fmt.Sprint("m", i), Value: float64(i) + 0.5, Unit: "Cel", At: time.Now()}
	}
	return rs
}

// telemetryIn takes every record from box and decodes them as
// device.telemetry events.
func telemetryIn(t *testing.T, box *outbox.Store) []*contracts.DeviceTelemetry {
	t.Helper()
	entries, err := box.TryNext(1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []*contracts.DeviceTelemetry
	for _, e := range entries {
		if e.Topic != "iot/v1/devices/gw-7/telemetry" {
			t.Errorf("record on %s; want the gateway's telemetry topic", e.Topic)
		}
		m, err := contracts.Decode(e.Payload)
		if err != nil {
			t.Fatalf("record %s: %v", e.Payload, err)
		}
		out = append(out, m.(*contracts.DeviceTelemetry))
	}
	return out
}

// TestCoalescerMergesAWindowsReadings: the readings of the sensors read
// within one window make one device.telemetry event of the gateway, in
// one commit; each sensor is told its correlationId.
func TestCoalescerMergesAWindowsReadings(t *testing.T) {
	box := openBox(t)
	c := newCoalescer(box, 200*time.Millisecond, 256, 1<<20)
	if err := c.mergeReadingsOf("gw-7"); err != nil {
		t.Fatal(err)
	}
	before := box.Stats().Commits
	ids := make([]string, 20)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := c.AppendReadings(context.Background(), readingsOf(fmt.Sprintf("s-%02d", i), 2))
			if err != nil {
				t.Errorf("sensor %d: %v", i, err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	if commits := box.Stats().Commits - before; commits != 1 {
		t.Errorf("20 sensors' readings within the window took %d commits; want 1", commits)
	}
	events := telemetryIn(t, box)
	if len(events) != 1 {
		t.Fatalf("%d events; want 1", len(events))
	}
	tm := events[0]
	if tm.Payload.DeviceID != "gw-7" || tm.Source.ID != "gw-7" || len(tm.Payload.Readings) != 40 {
		t.Errorf("event of %q from %q with %d readings; want gw-7's, with the 40", tm.Payload.DeviceID, tm.Source.ID, len(tm.Payload.Readings))
	}
	for i, id := range ids {
		if id != tm.CorrelationID {
			t.Errorf("sensor %d was told correlationId %q; the event's is %q", i, id, tm.CorrelationID)
		}
	}
	sensors := map[string]int{}
	for _, r := range tm.Payload.Readings {
		sensors[r.Sensor]++
	}
	if len(sensors) != 20 {
		t.Errorf("readings of %d sensors; want 20: %v", len(sensors), sensors)
	}
}

// TestCoalescerSplitsLargeWindows: a window's readings past eventBytes
// go in more events, none much past it, each sensor's in one of them.
func TestCoalescerSplitsLargeWindows(t *testing.T) {
	box := openBox(t)
	c := newCoalescer(box, 200*time.Millisecond, 256, 1<<20)
	if err := c.mergeReadingsOf("gw-7"); err != nil {
		t.Fatal(err)
	}
	const sensors, each = 40, 16 // about 100 bytes a reading: 64 KiB
	var wg sync.WaitGroup
	for i := range sensors {
		wg.Go(func() {
			if _, err := c.AppendReadings(context.Background(), readingsOf(fmt.Sprintf("sensor-%02d", i), each)); err != nil {
				t.Errorf("sensor %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	events := telemetryIn(t, box)
	if len(events) < 3 {
		t.Errorf("%d events for 64 KiB of readings; want 3 or more, of at most %d bytes", len(events), eventBytes)
	}
	in := map[string]string{} // sensor: the event's correlationId
	total := 0
	for _, tm := range events {
		b, err := contracts.Encode(tm)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > eventBytes+512 { // the envelope: readingBytes errs high
			t.Errorf("an event of %d bytes, %d readings; want at most %d and its envelope", len(b), len(tm.Payload.Readings), eventBytes)
		}
		for _, r := range tm.Payload.Readings {
			if id, ok := in[r.Sensor]; ok && id != tm.CorrelationID {
				t.Errorf("%s's readings in two events", r.Sensor)
			}
			in[r.Sensor] = tm.CorrelationID
			total++
		}
	}
	if total != sensors*each {
		t.Errorf("%d readings in the events; want %d", total, sensors*each)
	}
}

// TestCoalescerNeedsTheGatewayForReadings: readings given before
// mergeReadingsOf has named the gateway are refused, not sent as no
// one's.
func TestCoalescerNeedsTheGatewayForReadings(t *testing.T) {
	c := newCoalescer(openBox(t), time.Millisecond, 256, 1<<20)
	if _, err := c.AppendReadings(context.Background(), readingsOf("s", 1)); err == nil {
		t.Error("AppendReadings without a gateway = nil; want an error")
	}
}
