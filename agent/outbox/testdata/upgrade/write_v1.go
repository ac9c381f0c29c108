//go:build ignore

// write_v1 writes v1.db, a store file in the layout of the release before
// segments (records keyed by ID straight in the lane buckets), for
// TestUpgradeOpensAndDrainsAFileOfTheLastRelease. It was run once, at
// commit 98503de, from the repository's root:
//
//	go run ./agent/outbox/testdata/upgrade/write_v1.go agent/outbox/testdata/upgrade/v1.db
//
// Run at a later commit it writes that commit's layout, not v1.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

func main() {
	path := os.Args[1]
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		log.Fatal(err)
	}
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	// 1,200 telemetry records, a control record after every 60th.
	for i := range 1200 {
		r := outbox.Record{Lane: outbox.LaneTelemetry, Topic: "iot/v1/devices/gw-1/telemetry", Key: []byte("gw-1"),
			Payload: fmt.Appendf(nil, "t-%04d %s", i, "reading reading reading reading reading")}
		if i%100 == 7 {
			r.Headers = []outbox.Header{{Key: "correlationId", Value: fmt.Appendf(nil, "c-%d", i)}}
			r.Expiry = far
		}
		if err := s.Append(ctx, r); err != nil {
			log.Fatal(err)
		}
		if i%60 == 59 {
			c := outbox.Record{Lane: outbox.LaneControl, Topic: "iot/v1/devices/gw-1/status", Key: []byte("gw-1"),
				Payload: fmt.Appendf(nil, "c-%02d", i/60), Retain: true}
			if err := s.Append(ctx, c); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := s.AppendMemo(ctx, outbox.Memo{Key: "cmd-1", Value: []byte("answered")},
		outbox.Record{Lane: outbox.LaneControl, Topic: "iot/v1/devices/gw-1/responses", Payload: []byte("answer-1")}); err != nil {
		log.Fatal(err)
	}
	if err := s.PutCursor(ctx, "kafka/commands/0", []byte("42")); err != nil {
		log.Fatal(err)
	}
	// Hand out the control lane and the first 400 telemetry records: ack
	// control c-00..c-04 and telemetry t-0000..t-0099 and t-0250..t-0299,
	// quarantine t-0300, and leave the rest in flight.
	var es []outbox.Entry
	for len(es) < 21+400 {
		got, err := s.Next(ctx, 21+400-len(es))
		if err != nil {
			log.Fatal(err)
		}
		es = append(es, got...)
	}
	for _, e := range es {
		var n int
		switch {
		case e.Lane == outbox.LaneControl:
			if _, err := fmt.Sscanf(string(e.Payload), "c-%d", &n); err == nil && n < 5 {
				s.Ack(e.ID)
			}
		default:
			if _, err := fmt.Sscanf(string(e.Payload), "t-%d", &n); err != nil {
				log.Fatal(err)
			}
			switch {
			case n < 100 || n >= 250 && n < 300:
				s.Ack(e.ID)
			case n == 300:
				if err := s.Quarantine(e.ID, "refused by the broker"); err != nil {
					log.Fatal(err)
				}
			}
		}
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}
	os.Remove(path + ".reserve")
	os.Remove(path + ".lock")
}
