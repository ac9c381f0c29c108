package outbox_test

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"

	"github.com/iot-hub/agent/agent/outbox"
)

// batchRecord is record i of TestTryNextBatchReusesItsMemory: payloads of
// sizes that vary, so that some calls need more memory than the last.
func batchRecord(i int) outbox.Record {
	size := 50 + (i*37)%900
	if i >= 100 && i < 150 {
		size = 3000 // a round larger than every one before it
	}
	p := fmt.Appendf(nil, "rec-%04d:", i)
	p = append(p, bytes.Repeat([]byte{byte('a' + i%26)}, size-len(p))...)
	return outbox.Record{
		Lane: outbox.LaneTelemetry, Topic: "t", Key: fmt.Appendf(nil, "key-%d", i%7), Payload: p,
		Headers: []outbox.Header{{Key: "eventType", Value: []byte("device.telemetry")}, {Key: "n", Value: fmt.Appendf(nil, "%d", i)}},
	}
}

// TestTryNextBatchReusesItsMemory drains records of varying sizes with
// one Batch: every entry comes out whole, each call overwriting the
// memory of the last, and once a call has needed more memory, the
// calls after it reuse it instead of allocating; the headers too.
func TestTryNextBatchReusesItsMemory(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	const n = 300
	for i := 0; i < n; i += 50 {
		var recs []outbox.Record
		for j := i; j < i+50; j++ {
			recs = append(recs, batchRecord(j))
		}
		mustAppend(t, s, recs...)
	}
	var b outbox.Batch
	var firstPayload []*byte          // of each call's first entry
	var firstHeaders []*outbox.Header // likewise
	got := 0
	for got < n {
		if err := s.TryNextBatch(&b, 50, nil); err != nil {
			t.Fatal(err)
		}
		if len(b.Entries) == 0 {
			t.Fatalf("TryNextBatch handed out nothing after %d of %d records", got, n)
		}
		for _, e := range b.Entries {
			want := batchRecord(got)
			if !bytes.Equal(e.Payload, want.Payload) || !bytes.Equal(e.Key, want.Key) || e.Topic != want.Topic ||
				len(e.Headers) != 2 || e.Headers[0].Key != "eventType" || !bytes.Equal(e.Headers[1].Value, want.Headers[1].Value) {
				t.Fatalf("entry %d came out as key %q, payload %.20q…, headers %q; want key %q, payload %.20q…, headers %q",
					got, e.Key, e.Payload, e.Headers, want.Key, want.Payload, want.Headers)
			}
			got++
		}
		firstPayload = append(firstPayload, unsafe.SliceData(b.Entries[0].Payload))
		firstHeaders = append(firstHeaders, unsafe.SliceData(b.Entries[0].Headers))
		s.Ack(ids(b.Entries)...)
	}
	// Calls 0 and 1 fit what the call before them used; call 2 (records
	// 100..149) needs more, so call 3 gets a chunk of that size, which
	// calls 3, 4 and 5 share.
	if firstPayload[3] != firstPayload[4] || firstPayload[4] != firstPayload[5] {
		t.Errorf("calls 3, 4 and 5 put their first payload at %p, %p, %p; want the same memory, reused", firstPayload[3], firstPayload[4], firstPayload[5])
	}
	// Every call takes 100 headers: from call 1 on, the chunk call 0
	// showed the need of.
	for i := 2; i < len(firstHeaders); i++ {
		if firstHeaders[i] != firstHeaders[1] {
			t.Errorf("call %d put its first headers at %p, call 1 at %p; want the same memory, reused", i, firstHeaders[i], firstHeaders[1])
		}
	}
	if err := s.TryNextBatch(&b, 50, nil); err != nil || len(b.Entries) != 0 {
		t.Errorf("TryNextBatch on a drained store = %d entries, %v; want none", len(b.Entries), err)
	}
}

// TestTryNextBatchMaxBytes bounds batches by size: records of 1,000
// bytes come out 5 at a time under a bound of 4,500 bytes as stored (the
// fifth crosses it), a record larger than the bound ends the batch it
// comes in, and every record comes out once, in order.
func TestTryNextBatchMaxBytes(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	rec := func(i, size int) outbox.Record {
		p := fmt.Appendf(nil, "rec-%04d:", i)
		return outbox.Record{Lane: outbox.LaneTelemetry, Topic: "t", Payload: append(p, bytes.Repeat([]byte{'x'}, size-len(p))...)}
	}
	var want []string
	for i := range 23 {
		size := 1000
		if i == 12 {
			size = 10_000
		}
		r := rec(i, size)
		mustAppend(t, s, r)
		want = append(want, string(r.Payload[:8]))
	}
	b := outbox.Batch{MaxBytes: 4500}
	var sizes []int
	var got []string
	for {
		if err := s.TryNextBatch(&b, 64, nil); err != nil {
			t.Fatal(err)
		}
		if len(b.Entries) == 0 {
			break
		}
		sizes = append(sizes, len(b.Entries))
		for _, e := range b.Entries {
			got = append(got, string(e.Payload[:8]))
		}
		s.Ack(ids(b.Entries)...)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records came out as %v; want %v", got, want)
	}
	// 0..4, 5..9, 10..11 and the large 12 (crossing the bound), 13..17, 18..22
	if wantSizes := []int{5, 5, 3, 5, 5}; fmt.Sprint(sizes) != fmt.Sprint(wantSizes) {
		t.Errorf("batches of %v entries; want %v", sizes, wantSizes)
	}
}
