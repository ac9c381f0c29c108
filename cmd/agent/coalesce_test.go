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
