package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/clocktest"
)

func memo(t *testing.T, s *outbox.Store, key string) (string, bool) {
	t.Helper()
	v, ok, err := s.Memo(key)
	if err != nil {
		t.Fatalf("Memo(%q) = %v", key, err)
	}
	return string(v), ok
}

func TestMemoIsStoredWithItsRecordsAndSurvivesRestart(t *testing.T) {
	path := t.TempDir() + "/outbox.db"
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendMemo(context.Background(), outbox.Memo{Key: "cmd-1", Value: []byte("answer 1")}, ctl("response 1")); err != nil {
		t.Fatal(err)
	}
	if v, ok := memo(t, s, "cmd-1"); !ok || v != "answer 1" {
		t.Errorf("Memo(cmd-1) = %q, %v; want answer 1", v, ok)
	}
	if _, ok := memo(t, s, "cmd-2"); ok {
		t.Error("Memo(cmd-2) found; want none")
	}
	if err := s.AppendMemo(context.Background(), outbox.Memo{Key: "cmd-1", Value: []byte("answer 1 again")}); err != nil {
		t.Fatalf("AppendMemo without records = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	if v, ok := memo(t, s, "cmd-1"); !ok || v != "answer 1 again" {
		t.Errorf("after restart Memo(cmd-1) = %q, %v; want the replacement", v, ok)
	}
	if got := payloads(next(t, s, 10)); len(got) != 1 || got[0] != "response 1" {
		t.Errorf("after restart Next = %v; want [response 1]", got)
	}
}

func TestMemosAreBoundedByCountAndAge(t *testing.T) {
	clock := clocktest.New(clocktest.Start)
	s, _ := openStore(t, outbox.Config{MemoMaxCount: 3, MemoMaxAge: time.Hour, Clock: clock})
	for i := range 5 {
		if err := s.AppendMemo(context.Background(), outbox.Memo{Key: fmt.Sprint("k", i), Value: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if _, ok := memo(t, s, fmt.Sprint("k", i)); ok != (i >= 2) {
			t.Errorf("after 5 memos with a cap of 3, Memo(k%d) found = %v; want %v", i, ok, i >= 2)
		}
	}
	// Replacing one moves it to the end of the line.
	if err := s.AppendMemo(context.Background(), outbox.Memo{Key: "k2", Value: []byte("new")}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendMemo(context.Background(), outbox.Memo{Key: "k5"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := memo(t, s, "k3"); ok {
		t.Error("k3 kept; want it gone as the oldest after k2 was replaced")
	}
	if v, ok := memo(t, s, "k2"); !ok || v != "new" {
		t.Errorf("Memo(k2) = %q, %v; want the replaced value", v, ok)
	}
	clock.Advance(time.Hour + time.Second)
	if _, ok := memo(t, s, "k5"); ok {
		t.Error("a memo older than MemoMaxAge is found; want none")
	}
	if err := s.AppendMemo(context.Background(), outbox.Memo{Key: "k6"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := memo(t, s, "k6"); !ok {
		t.Error("a fresh memo is not found")
	}
}

func TestAppendMemoIsAllOrNothing(t *testing.T) {
	s, _ := openStore(t, outbox.Config{Settings: outbox.Settings{MaxBytes: 1 << 20}})
	big := strings.Repeat("x", 100<<10)
	var err error
	for i := 0; err == nil && i < 20; i++ {
		err = s.Append(context.Background(), ctl(big))
	}
	if !errors.Is(err, outbox.ErrFull) {
		t.Fatalf("filling with control records: %v; want ErrFull", err)
	}
	err = s.AppendMemo(context.Background(), outbox.Memo{Key: "cmd", Value: []byte("answer")}, ctl(big))
	if !errors.Is(err, outbox.ErrFull) {
		t.Fatalf("AppendMemo on a full store = %v; want ErrFull", err)
	}
	if _, ok := memo(t, s, "cmd"); ok {
		t.Error("the memo was kept though its record was refused")
	}
}

func TestAppendMemoRefusesBadMemos(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	for _, tc := range []struct {
		m    outbox.Memo
		want error
	}{
		{outbox.Memo{Key: ""}, outbox.ErrInvalidRecord},
		{outbox.Memo{Key: strings.Repeat("k", outbox.MaxMemoKey+1)}, outbox.ErrInvalidRecord},
		{outbox.Memo{Key: "k", Value: make([]byte, outbox.MaxMemoValue+1)}, outbox.ErrTooLarge},
	} {
		if err := s.AppendMemo(context.Background(), tc.m); !errors.Is(err, tc.want) {
			t.Errorf("AppendMemo(key of %d bytes, value of %d) = %v; want %v", len(tc.m.Key), len(tc.m.Value), err, tc.want)
		}
	}
}

func TestDamagedMemoReadsAsAbsent(t *testing.T) {
	path := t.TempDir() + "/outbox.db"
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendMemo(context.Background(), outbox.Memo{Key: "cmd", Value: []byte("answer")}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("memos"))
		v := append([]byte(nil), b.Get([]byte("cmd"))...)
		v[len(v)-6] ^= 0x20 // a bit of the value flips
		return b.Put([]byte("cmd"), v)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	if v, ok := memo(t, s, "cmd"); ok {
		t.Errorf("a damaged memo reads as %q; want it absent", v)
	}
}

// Memos are live data: a drained queue with many memos must not make
// every commit compact the file, copying the memos each time.
func TestMemosDoNotTriggerCompactionOverAndOver(t *testing.T) {
	s, _ := openStore(t, outbox.Config{CompactMinBytes: 1 << 20})
	value := make([]byte, 4<<10)
	for i := range 600 {
		if err := s.AppendMemo(context.Background(), outbox.Memo{Key: fmt.Sprint("cmd-", i), Value: value}, ctl("answer")); err != nil {
			t.Fatal(err)
		}
		for _, e := range next(t, s, 10) {
			s.Ack(e.ID)
		}
		if i%100 == 99 { // let the queue drain: the acks commit on their own
			for commits := s.Stats().Commits; s.Stats().Commits == commits; {
				time.Sleep(time.Millisecond)
			}
		}
	}
	if n := s.Stats().Compactions; n > 1 {
		t.Errorf("%d compactions while 2.4 MB of memos stayed; want at most 1", n)
	}
	if _, ok := memo(t, s, "cmd-0"); !ok {
		t.Error("the first memo is gone")
	}
}
