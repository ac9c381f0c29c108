package modbustest_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
	"github.com/iot-hub/agent/internal/ptytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a testing.TB whose Errorf is recorded, not failing.
type recorder struct {
	testing.TB
	errs chan string
}

func (r *recorder) Errorf(format string, args ...any) { r.errs <- fmt.Sprintf(format, args...) }

// wire is a line served on a pty, and the tty the test writes requests
// to, as the driver would.
type wire struct {
	line *modbustest.Line
	tty  *os.File
	errs chan string
	seen chan modbustest.Request // every request the line read
}

func newWire(t *testing.T, baud int) *wire {
	pair := ptytest.NewPair(t)
	rec := &recorder{TB: t, errs: make(chan string, 16)}
	line := modbustest.NewLine(rec, baud)
	line.Serve(pair)
	tty, err := os.OpenFile(pair.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	w := &wire{line: line, tty: tty, errs: rec.errs, seen: make(chan modbustest.Request, 64)}
	line.OnRequest(func(q modbustest.Request) { w.seen <- q })
	return w
}

// transact sends req, waits for the line to read it, and returns the n
// bytes of its answer; then it keeps the line quiet for 2 × t3.5, as a
// driver would before its next request.
func (w *wire) transact(t *testing.T, req []byte, n int) []byte {
	t.Helper()
	w.send(t, req...)
	select {
	case <-w.seen:
	case <-time.After(10 * time.Second):
		t.Fatalf("the line did not read the request % X", req)
	}
	var ans []byte
	if n > 0 {
		ans = w.receive(t, n)
	}
	<-time.After(2 * w.line.Gap())
	return ans
}

// received waits until the line has read n bytes in all.
func (w *wire) received(t *testing.T, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); modbustest.Received(w.line) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the line read %d bytes; want %d", modbustest.Received(w.line), n)
		}
		<-time.After(time.Millisecond)
	}
}

// send writes b to the line.
func (w *wire) send(t *testing.T, b ...byte) {
	t.Helper()
	if _, err := w.tty.Write(b); err != nil {
		t.Fatal(err)
	}
}

// receive reads n bytes from the line.
func (w *wire) receive(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	w.tty.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(w.tty, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// failure waits for the line to fail the test, and returns the message.
func (w *wire) failure(t *testing.T) string {
	t.Helper()
	select {
	case msg := <-w.errs:
		return msg
	case <-time.After(10 * time.Second):
		t.Fatal("the line did not fail the test")
		return ""
	}
}

// noFailure checks that the line has not failed the test.
func (w *wire) noFailure(t *testing.T) {
	t.Helper()
	select {
	case msg := <-w.errs:
		t.Errorf("the line failed the test: %s", msg)
	default:
	}
}

func TestAnswers(t *testing.T) {
	w := newWire(t, 19200)
	s := w.line.Slave(0x11)
	s.SetHolding(0x6B, 0x022B, 0x0000, 0x0064)
	w.line.Slave(0x12) // another slave, with nothing
	req := modbustest.AppendCRC([]byte{0x11, 0x03, 0x00, 0x6B, 0x00, 0x03})
	if want := []byte{0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87}; !bytes.Equal(req, want) {
		t.Fatalf("AppendCRC = % X; want % X", req, want)
	}
	good := modbustest.AppendCRC([]byte{0x11, 0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64})
	for _, tc := range []struct {
		name  string
		fault *modbustest.Fault
		req   []byte
		want  []byte
	}{
		{"registers", nil, req, good},
		{"noise", &modbustest.Fault{Noise: []byte{0, 0xFF}}, req, append([]byte{0, 0xFF}, good...)},
		{"truncated", &modbustest.Fault{Truncate: 4}, req, good[:4]},
		{"bad CRC", &modbustest.Fault{BadCRC: true}, req, append(good[:9:9], good[9]^0xFF, good[10]^0xFF)},
		{"exception", &modbustest.Fault{Exception: 4}, req, modbustest.AppendCRC([]byte{0x11, 0x83, 0x04})},
		{"missing register", nil, modbustest.AppendCRC([]byte{0x11, 0x04, 0x00, 0x6B, 0x00, 0x01}), modbustest.AppendCRC([]byte{0x11, 0x84, 0x02})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				s.Fail(*tc.fault)
			}
			if got := w.transact(t, tc.req, len(tc.want)); !bytes.Equal(got, tc.want) {
				t.Errorf("answer % X; want % X", got, tc.want)
			}
		})
	}
	// A slave with empty tables answers an exception; requests for no
	// slave of the line, or a silent one, get no answer.
	if got, want := w.transact(t, modbustest.AppendCRC([]byte{0x12, 0x03, 0x00, 0x00, 0x00, 0x01}), 5), modbustest.AppendCRC([]byte{0x12, 0x83, 0x02}); !bytes.Equal(got, want) {
		t.Errorf("answer % X; want % X", got, want)
	}
	w.transact(t, modbustest.AppendCRC([]byte{0x13, 0x03, 0x00, 0x00, 0x00, 0x01}), 0)
	s.SetSilent(true)
	w.transact(t, req, 0)
	s.SetSilent(false)
	if got := w.transact(t, req, len(good)); !bytes.Equal(got, good) {
		t.Errorf("answer % X; want % X", got, good)
	}
	w.noFailure(t)
	var got []string
	for _, q := range w.line.Requests() {
		got = append(got, q.String())
	}
	want := "slave 17 fn 3 107+3: registers|slave 17 fn 3 107+3: damaged|slave 17 fn 3 107+3: damaged|slave 17 fn 3 107+3: damaged|" +
		"slave 17 fn 3 107+3: exception|slave 17 fn 4 107+1: exception|slave 18 fn 3 0+1: exception|slave 19 fn 3 0+1: none|" +
		"slave 17 fn 3 107+3: silent|slave 17 fn 3 107+3: registers"
	if strings.Join(got, "|") != want {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}

func TestMalformedRequestsFail(t *testing.T) {
	req := modbustest.AppendCRC([]byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x01})
	badCRC := append(req[:7:7], req[7]^1)
	for _, tc := range []struct {
		name string
		send [][]byte // each written 2 × t3.5 after the line read the previous
		want string   // in the failure
	}{
		{"bad CRC", [][]byte{badCRC}, "CRC"},
		{"broadcast", [][]byte{modbustest.AppendCRC([]byte{0x00, 0x03, 0x00, 0x00, 0x00, 0x01})}, "slave 0 is outside 1..247"},
		{"function 6", [][]byte{modbustest.AppendCRC([]byte{0x01, 0x06, 0x00, 0x00, 0x00, 0x01})}, "function 6; want 3 or 4"},
		{"126 registers", [][]byte{modbustest.AppendCRC([]byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x7E})}, "126 registers"},
		{"past the last register", [][]byte{modbustest.AppendCRC([]byte{0x01, 0x03, 0xFF, 0xFF, 0x00, 0x02})}, "2 registers from 65535"},
		{"cut short", [][]byte{req[:5], req}, "a request of 5 bytes"},
		{"back to back", [][]byte{append(slices.Clone(req), req...)}, "after the previous frame ended"},
		{"interleaved", [][]byte{append(append(slices.Clone(req[:4]), req...), req[4:]...)}, "CRC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t, 300) // t3.5: 128 ms
			w.line.Slave(1)
			var sent int64
			for i, b := range tc.send {
				if i > 0 {
					w.received(t, sent) // then a pause, as the line sees it
					<-time.After(2 * w.line.Gap())
				}
				w.send(t, b...)
				sent += int64(len(b))
			}
			if msg := w.failure(t); !strings.Contains(msg, tc.want) {
				t.Errorf("failure %q; want it to say %q", msg, tc.want)
			}
		})
	}
}

// TestRequestTooSoonFails: a request that follows the answer to the
// previous one closer than t3.5 fails the test.
func TestRequestTooSoonFails(t *testing.T) {
	w := newWire(t, 300) // t3.5: 128 ms
	w.line.Slave(1).SetInput(0, 7)
	req := modbustest.AppendCRC([]byte{0x01, 0x04, 0x00, 0x00, 0x00, 0x01})
	w.send(t, req...)
	w.receive(t, 7)
	w.send(t, req...)
	if msg := w.failure(t); !strings.Contains(msg, "after the previous frame ended; t3.5 is 128.333333ms") {
		t.Errorf("failure %q; want it to name the gap", msg)
	}
}
