package serialport_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/syncbuf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newPort makes a port at path, closed by t.Cleanup, logging into the
// returned buffer.
func newPort(t *testing.T, cfg serialport.Config) (*serialport.Port, *syncbuf.Buffer) {
	t.Helper()
	var logs syncbuf.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	p, err := serialport.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return p, &logs
}

// count counts the log lines with msg="msg".
func count(logs *syncbuf.Buffer, msg string) int {
	return strings.Count(logs.String(), fmt.Sprintf("msg=%q", msg))
}

// doubling is a backoff without jitter: 1s, 2s, 4s, ...
func doubling(attempt int) time.Duration { return time.Second << (attempt - 1) }

// Frames of the test protocol: a request is STX id n payload[n] sum ETX,
// sum the low byte of the payload's sum; the answer is ACK id n
// payload-reversed[n] sum. Payloads hold the bytes a tty could mangle.
const (
	stx = 0x02
	etx = 0x03
	ack = 0x06
)

// request returns the frame of request seq of client id.
func request(id, seq byte) (frame, answer []byte) {
	payload := []byte{seq, 0x0A, 0x0D, 0x11, 0x13, 0x00, stx, etx, id, 0xFF}
	sum := byte(0)
	for _, b := range payload {
		sum += b
	}
	frame = append(append([]byte{stx, id, byte(len(payload))}, payload...), sum, etx)
	answer = []byte{ack, id, byte(len(payload))}
	for i := len(payload) - 1; i >= 0; i-- {
		answer = append(answer, payload[i])
	}
	return frame, append(answer, sum)
}

// serveFrames is the test protocol's device on rw: it answers every well
// formed request, and reports the first malformed one (bytes of two
// requests interleaved) on bad. It returns when rw fails (closed).
func serveFrames(rw io.ReadWriter, bad chan<- error) {
	r := bufio.NewReader(rw)
	for {
		head := make([]byte, 3)
		if _, err := io.ReadFull(r, head); err != nil {
			return
		}
		if head[0] != stx {
			bad <- fmt.Errorf("frame starts with %#x; want STX", head[0])
			return
		}
		rest := make([]byte, int(head[2])+2)
		if _, err := io.ReadFull(r, rest); err != nil {
			return
		}
		payload, sum := rest[:head[2]], byte(0)
		for _, b := range payload {
			sum += b
		}
		if sum != rest[len(rest)-2] || rest[len(rest)-1] != etx || payload[len(payload)-2] != head[1] {
			bad <- fmt.Errorf("malformed frame % x % x", head, rest)
			return
		}
		answer := []byte{ack, head[1], head[2]}
		for i := len(payload) - 1; i >= 0; i-- {
			answer = append(answer, payload[i])
		}
		if _, err := rw.Write(append(answer, sum)); err != nil {
			return
		}
	}
}

// transact sends frame a byte per Write, to give another writer every
// chance to interleave, and reads len(want) bytes of answer.
func transact(ctx context.Context, c serialport.Conn, frame, want []byte) error {
	for i := range frame {
		if _, err := c.Write(frame[i : i+1]); err != nil {
			return err
		}
	}
	if err := c.Drain(); err != nil {
		return err
	}
	if err := c.SetReadTimeout(5 * time.Second); err != nil {
		return err
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 64)
	for len(got) < len(want) {
		n, err := c.Read(buf[:len(want)-len(got)])
		if err != nil {
			return err
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != string(want) {
		return fmt.Errorf("answer % x; want % x", got, want)
	}
	return nil
}

// errFn is a transaction that fails with err.
func errFn(err error) func(context.Context, serialport.Conn) error {
	return func(context.Context, serialport.Conn) error { return err }
}

// waitFor waits until cond holds, failing t after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

var errTest = errors.New("test error")
