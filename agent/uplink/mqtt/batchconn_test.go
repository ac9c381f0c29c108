package mqtt

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestBatchConnFlushesByItself checks that bytes a writer leaves in the
// buffer (a PINGREQ, a PUBACK) go out within flushDelay without anyone
// calling Flush, and that Flush and a full buffer send at once.
func TestBatchConnFlushesByItself(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	b := newBatchConn(client)
	defer b.Close()
	got := make(chan []byte, 4)
	go func() {
		buf := make([]byte, 2*flushSize)
		for {
			n, err := server.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- append([]byte(nil), buf[:n]...)
		}
	}()
	read := func(what string) []byte {
		t.Helper()
		select {
		case p := <-got:
			return p
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: nothing arrived", what)
			return nil
		}
	}

	b.Write([]byte{0xc0, 0x00}) // PINGREQ
	if p := read("timer flush"); string(p) != "\xc0\x00" {
		t.Errorf("timer flush sent %x; want c000", p)
	}
	b.Write([]byte("ab"))
	b.Write([]byte("cd"))
	b.Flush()
	if p := read("explicit flush"); string(p) != "abcd" {
		t.Errorf("Flush sent %q; want the two writes in one", p)
	}
	big := make([]byte, flushSize)
	if n, err := b.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write(full buffer) = %d, %v", n, err)
	}
	total := 0
	for total < len(big) {
		total += len(read("full buffer"))
	}
	// Once a flush fails, every Write reports it: paho learns the
	// connection is gone.
	server.Close()
	for range got {
	}
	b.Write([]byte("x"))
	b.Flush()
	if _, err := b.Write([]byte("y")); err != io.ErrClosedPipe {
		t.Errorf("Write after a failed flush = %v; want %v", err, io.ErrClosedPipe)
	}
}
