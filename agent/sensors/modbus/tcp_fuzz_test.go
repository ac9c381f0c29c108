package modbus

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzMBAPAnswer: whatever a Modbus TCP server answers (its first frame
// with the request's transaction id, or not), an attempt returns the
// request's count of words or an error, and never hangs: the connection
// is dropped after anything but a clean answer or an exception.
func FuzzMBAPAnswer(f *testing.F) {
	f.Add(uint16(2), []byte{0, 1, 0, 0, 0, 7, 1, 4, 4, 0, 42, 0, 43}, true)
	f.Add(uint16(1), []byte{0, 1, 0, 0, 0, 3, 1, 0x84, 2}, true)
	f.Add(uint16(1), []byte{0, 0, 0, 0, 0, 5, 1, 4, 2, 0, 1, 0, 1, 0, 0, 0, 5, 1, 4, 2, 0, 9}, false)
	f.Fuzz(func(t *testing.T, count uint16, answer []byte, ownID bool) {
		q := request{slave: 1, function: InputRegisters, count: 1 + count%MaxCount}
		client, server := net.Pipe()
		defer server.Close()
		s := NewServer("fuzz", FramingMBAP)
		s.dial = func(context.Context, string) (net.Conn, error) { return client, nil }
		go func() {
			var req [12]byte
			if _, err := io.ReadFull(server, req[:]); err != nil {
				return
			}
			if ownID && len(answer) >= 2 {
				copy(answer, req[:2]) // the request's transaction id
			}
			server.Write(answer)
		}()
		words, err := s.attempt(context.Background(), q, 50*time.Millisecond)
		var exc *ExceptionError
		switch {
		case err == nil && len(words) != int(q.count):
			t.Fatalf("%d words for a request of %d", len(words), q.count)
		case err != nil && !errors.As(err, &exc) && s.conn != nil:
			t.Fatalf("connection kept after %v", err)
		}
		s.Close()
	})
}
