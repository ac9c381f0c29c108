package mqtt

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// batchConn gathers the packets paho writes and sends them in as few
// system calls (and TLS records) as it can: the queue's writer flushes
// when it has nothing more to publish, a full buffer flushes itself, and
// a timer flushes what other writers (PUBACKs of commands, PINGREQ) leave
// within flushDelay. Without it each PUBLISH costs a writev of its own,
// the drain's main cost.
//
// It also buffers reads: paho reads a packet a few bytes at a time (the
// type, the length, the rest), a system call each without a buffer, and a
// PUBACK is 4 bytes. Its reads go through a packetLimit, which cuts short
// a PUBLISH too large.
//
// It is a sync.Locker: paho locks a connection that is one while it
// writes a packet, in several Write calls, so packets from different
// goroutines (the queue's PUBLISHes, the PUBACKs of commands) never
// interleave.
type batchConn struct {
	net.Conn
	r       *packetLimit // paho's one reading goroutine uses it
	packet  sync.Mutex   // held by paho for a whole packet
	mu      sync.Mutex
	buf     []byte
	pending bool // the timer is armed
	timer   *time.Timer
	err     error // the first write error; every later Write returns it
}

const (
	flushDelay = 200 * time.Microsecond
	flushSize  = 32 << 10
	readBuffer = 16 << 10
)

// newBatchConn wraps c; its reads go through limit (its max, keep and
// onCut).
func newBatchConn(c net.Conn, limit packetLimit) *batchConn {
	limit.r = bufio.NewReaderSize(c, readBuffer)
	b := &batchConn{Conn: c, r: &limit}
	b.timer = time.AfterFunc(time.Hour, b.Flush)
	b.timer.Stop()
	return b
}

// Lock and Unlock hold the connection for one packet's writes.
func (b *batchConn) Lock()   { b.packet.Lock() }
func (b *batchConn) Unlock() { b.packet.Unlock() }

// Read reads through the read buffer.
func (b *batchConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// Write buffers p; it fails only with the error of an earlier flush.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	b.buf = append(b.buf, p...)
	return len(p), b.bufferedLocked()
}

// writePublish encodes the PUBLISH p into the buffer, whole: no packet of
// paho's goes in the middle of it. It fails only with the error of an
// earlier flush.
func (b *batchConn) writePublish(p *publishPacket) error {
	b.Lock()
	defer b.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.buf = p.appendTo(b.buf)
	return b.bufferedLocked()
}

// bufferedLocked sends the buffer when it is full, else has the timer
// send it within flushDelay.
func (b *batchConn) bufferedLocked() error {
	if len(b.buf) >= flushSize {
		return b.flushLocked()
	}
	if !b.pending {
		b.pending = true
		b.timer.Reset(flushDelay)
	}
	return nil
}

// Flush sends what is buffered.
func (b *batchConn) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *batchConn) flushLocked() error {
	if b.pending {
		b.pending = false
		b.timer.Stop() // a timer left to fire spends a goroutine on an empty buffer
	}
	if len(b.buf) == 0 || b.err != nil {
		return b.err
	}
	_, err := b.Conn.Write(b.buf)
	b.buf = b.buf[:0]
	if err != nil {
		b.err = err
	}
	return err
}

// Close flushes and closes the connection.
func (b *batchConn) Close() error {
	b.Flush()
	b.timer.Stop()
	return b.Conn.Close()
}

// closeWith sends what is buffered and then packet, a whole MQTT packet
// (a DISCONNECT), and leaves the closing to the broker, which closes the
// connection once it has read the packet: the reader then sees the end
// of the connection, as after any loss. Closing at once, with packets of
// the broker's not read yet, would reset the connection, and the broker
// could lose the DISCONNECT with the rest. If the broker has not closed
// it within timeout, or the write fails, it is closed.
func (b *batchConn) closeWith(packet []byte, timeout time.Duration) {
	b.Lock() // no packet of paho's is cut in two
	defer b.Unlock()
	_ = b.Conn.SetWriteDeadline(time.Now().Add(timeout))
	b.mu.Lock()
	b.buf = append(b.buf, packet...)
	err := b.flushLocked()
	b.mu.Unlock()
	if err != nil || b.Conn.SetReadDeadline(time.Now().Add(timeout)) != nil {
		_ = b.Close()
	}
}
