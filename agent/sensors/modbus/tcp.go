package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/iot-hub/agent/internal/backoff"
)

// Framings of a Modbus TCP server.
const (
	// FramingMBAP is Modbus TCP proper: each PDU behind a 7-byte MBAP
	// header with a transaction id.
	FramingMBAP = "mbap"
	// FramingRTU is RTU frames, CRC and all, over TCP: what serial device
	// servers (RS-485 to Ethernet converters) pass through.
	FramingRTU = "rtu"
)

// Backoff between connection attempts to a server that refused or
// dropped one: no sensor of the server dials again before it.
const (
	MinReconnect = time.Second
	MaxReconnect = time.Minute
)

// ErrReconnecting: the server's connection was lost, and the next
// attempt to connect is not due yet.
var ErrReconnecting = errors.New("reconnecting")

// mbapHeader is the MBAP header's length: transaction id, protocol id 0,
// length of what follows, unit id.
const mbapHeader = 7

// Server is one Modbus TCP server, or a serial device server: one
// connection, kept open between reads and made again with backoff when
// lost, which the sensors of its units share, one request at a time.
type Server struct {
	addr    string // host:port
	framing string

	turn chan struct{} // a token: held by the request on the connection

	// Owned by the turn.
	conn     net.Conn
	tid      uint16
	failures int       // connection attempts failed in a row
	retryAt  time.Time // no dial before
	now      func() time.Time
	dial     func(ctx context.Context, addr string) (net.Conn, error)
}

// NewServer returns the server at addr (host:port) spoken to in framing.
// It connects at the first request.
func NewServer(addr, framing string) *Server {
	s := &Server{addr: addr, framing: framing, turn: make(chan struct{}, 1), now: time.Now}
	var d net.Dialer
	s.dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	return s
}

// Addr returns the server's address.
func (s *Server) Addr() string { return s.addr }

// attempt is one attempt of q on the connection, made first if there is
// none and the backoff allows. A timeout, a damaged answer or a lost
// connection close it: what is left on it is stale.
func (s *Server) attempt(ctx context.Context, q request, timeout time.Duration) ([]uint16, error) {
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.turn }()
	if err := s.connect(ctx, timeout); err != nil {
		return nil, err
	}
	deadline := s.now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := s.conn.SetDeadline(deadline); err != nil {
		s.drop()
		return nil, err
	}
	var words []uint16
	var err error
	if s.framing == FramingRTU {
		words, err = s.exchangeRTU(q, timeout)
	} else {
		words, err = s.exchangeMBAP(q, timeout)
	}
	var exc *ExceptionError
	if err != nil && !errors.As(err, &exc) {
		s.drop()
	}
	return words, err
}

// connect dials the server unless connected, no sooner than the backoff
// allows.
func (s *Server) connect(ctx context.Context, timeout time.Duration) error {
	if s.conn != nil {
		return nil
	}
	if wait := s.retryAt.Sub(s.now()); wait > 0 {
		return fmt.Errorf("%s: %w in %v", s.addr, ErrReconnecting, wait.Round(time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := s.dial(ctx, s.addr)
	if err != nil {
		s.failures++
		s.retryAt = s.now().Add(backoff.Jittered(MinReconnect, MaxReconnect, s.failures))
		return fmt.Errorf("connect %s: %w", s.addr, err)
	}
	s.conn, s.failures = conn, 0
	return nil
}

// drop closes the connection, for the next request to make another.
func (s *Server) drop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// exchangeMBAP sends q in an MBAP frame of the next transaction id and
// reads until the answer with that id; answers to earlier, abandoned
// requests are skipped.
func (s *Server) exchangeMBAP(q request, timeout time.Duration) ([]uint16, error) {
	s.tid++
	pdu := q.frame()[1:6] // function, address, count: the RTU frame without slave and CRC
	req := binary.BigEndian.AppendUint16(nil, s.tid)
	req = binary.BigEndian.AppendUint16(req, 0)
	req = binary.BigEndian.AppendUint16(req, uint16(1+len(pdu)))
	req = append(append(req, q.slave), pdu...)
	if _, err := s.conn.Write(req); err != nil {
		return nil, readErr(err, timeout)
	}
	for {
		var h [mbapHeader]byte
		if _, err := io.ReadFull(s.conn, h[:]); err != nil {
			return nil, readErr(err, timeout)
		}
		n := int(binary.BigEndian.Uint16(h[4:6]))
		if binary.BigEndian.Uint16(h[2:4]) != 0 || n < 2 || n > 1+2+250 {
			return nil, fmt.Errorf("MBAP header % x: %w", h, ErrFrame)
		}
		pdu := make([]byte, n-1)
		if _, err := io.ReadFull(s.conn, pdu); err != nil {
			return nil, readErr(err, timeout)
		}
		if binary.BigEndian.Uint16(h[0:2]) != s.tid {
			continue // an answer that came after its request gave up
		}
		if h[6] != q.slave {
			return nil, fmt.Errorf("from unit %d: %w", h[6], ErrFrame)
		}
		// An RTU frame of the same PDU decodes it: slave, PDU, CRC.
		return decodeResponse(q, appendCRC(append([]byte{q.slave}, pdu...)))
	}
}

// exchangeRTU sends q's RTU frame and reads its answer, as on a serial
// line: up to the length the request implies, or an exception's.
func (s *Server) exchangeRTU(q request, timeout time.Duration) ([]uint16, error) {
	if _, err := s.conn.Write(q.frame()); err != nil {
		return nil, readErr(err, timeout)
	}
	buf := make([]byte, q.responseLen())
	n := 0
	for need := q.expectedLen(buf[:n]); n < need; need = q.expectedLen(buf[:n]) {
		k, err := s.conn.Read(buf[n:need])
		n += k
		if err != nil {
			if n > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("truncated: %d of %d bytes: %w", n, need, ErrFrame)
			}
			return nil, readErr(err, timeout)
		}
	}
	return decodeResponse(q, buf[:n])
}

// readErr is a read's or write's error: ErrTimeout at the deadline.
func readErr(err error, timeout time.Duration) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w within %v", ErrTimeout, timeout)
	}
	return err
}

// Close closes the connection.
func (s *Server) Close() error {
	s.turn <- struct{}{}
	defer func() { <-s.turn }()
	s.drop()
	return nil
}

// Servers are the Modbus TCP servers of a configuration, one per address
// and framing, shared by the sensors of their units.
type Servers struct {
	mu sync.Mutex
	m  map[[2]string]*Server
}

// Get returns the server at addr in framing, made at its first Get.
func (ss *Servers) Get(addr, framing string) *Server {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[[2]string]*Server{}
	}
	k := [2]string{addr, framing}
	if s, ok := ss.m[k]; ok {
		return s
	}
	s := NewServer(addr, framing)
	ss.m[k] = s
	return s
}

// Close closes every server's connection.
func (ss *Servers) Close() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, s := range ss.m {
		s.Close()
	}
	return nil
}
