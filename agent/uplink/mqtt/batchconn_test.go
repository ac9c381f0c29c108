package mqtt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
)

// TestBatchConnFlushesByItself checks that bytes a writer leaves in the
// buffer (a PINGREQ, a PUBACK) go out within flushDelay without anyone
// calling Flush, and that Flush and a full buffer send at once.
func TestBatchConnFlushesByItself(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	b := newBatchConn(client, packetLimit{max: 1 << 20})
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

// Packets written from several goroutines at once arrive whole: paho
// locks the connection for each packet's several Write calls.
func TestBatchConnKeepsPacketsWhole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	defer server.Close()
	b := newBatchConn(client, packetLimit{max: 1 << 20})
	defer b.Close()
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				p := &packets.Publish{QoS: 1, PacketID: uint16(w*each + i + 1), Topic: fmt.Sprintf("t/%d", w),
					Payload: bytes.Repeat([]byte{byte(w)}, 100+i%50), Properties: &packets.Properties{User: []packets.User{{Key: "k", Value: "v"}}}}
				if _, err := p.WriteTo(b); err != nil {
					t.Error(err)
					return
				}
			}
			b.Flush()
		})
	}
	r := bufio.NewReader(server)
	for n := range writers * each {
		cp, err := packets.ReadPacket(r)
		if err != nil {
			t.Fatalf("packet %d: %v: writes of two packets interleaved", n, err)
		}
		p, ok := cp.Content.(*packets.Publish)
		if !ok || p.Topic != fmt.Sprintf("t/%d", p.Payload[0]) {
			t.Fatalf("packet %d is %+v; want a whole PUBLISH", n, cp.Content)
		}
	}
	wg.Wait()
}
