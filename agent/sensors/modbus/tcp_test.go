package modbus_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/modbus"
)

// startPymodbusTCP runs testdata/pymodbus_tcp.py in framing, for unit,
// with the register tables holding and input, until the test ends, and
// returns its address.
func startPymodbusTCP(t *testing.T, framing string, unit int, holding, input string) string {
	t.Helper()
	line := runPymodbus(t, "testdata/pymodbus_tcp.py", framing, itoa(unit), holding, input)
	port, ok := strings.CutPrefix(line, "ready ")
	if !ok {
		t.Fatalf("pymodbus TCP server did not start: %q", line)
	}
	return "127.0.0.1:" + port
}

// TestPymodbusTCPInterop reads registers from pymodbus's TCP server, in
// Modbus TCP's framing and in RTU frames over TCP, and its exception for
// a register it does not have.
func TestPymodbusTCPInterop(t *testing.T) {
	requirePymodbus(t)
	for _, framing := range []string{modbus.FramingMBAP, modbus.FramingRTU} {
		t.Run(framing, func(t *testing.T) {
			addr := startPymodbusTCP(t, framing, 9, "100:"+join(0xFF85, 0, 42), "0:"+join(2150, 0xFFFF, 0x0001))
			var servers modbus.Servers
			t.Cleanup(func() { servers.Close() })
			sen, err := modbus.New(modbus.Config{Name: "tcp", Server: servers.Get(addr, framing), Settings: modbus.Settings{Slave: 9, ResponseTimeout: time.Second,
				Registers: []modbus.Register{
					{Metric: "i16", Function: modbus.HoldingRegisters, Address: 100, Type: modbus.Int16},
					{Metric: "u16", Function: modbus.HoldingRegisters, Address: 102, Type: modbus.Uint16},
					{Metric: "temperature", Unit: "Cel", Function: modbus.InputRegisters, Address: 0, Type: modbus.Uint16, Scale: 0.01},
					{Metric: "u32", Function: modbus.InputRegisters, Address: 1, Type: modbus.Uint32},
				}}})
			if err != nil {
				t.Fatal(err)
			}
			want := []sensors.Reading{{Metric: "i16", Value: -123}, {Metric: "u16", Value: 42},
				{Metric: "temperature", Value: 21.5, Unit: "Cel"}, {Metric: "u32", Value: 0xFFFF0001}}
			for range 3 {
				if rs, err := sen.Read(context.Background()); err != nil || !readingsEqual(rs, want) {
					t.Fatalf("Read = %v, %v; want %v", rs, err, want)
				}
			}
			missing, err := modbus.New(modbus.Config{Name: "missing", Server: servers.Get(addr, framing), Settings: modbus.Settings{Slave: 9,
				Registers: []modbus.Register{{Metric: "m", Function: modbus.InputRegisters, Address: 500, Type: modbus.Uint16}}}})
			if err != nil {
				t.Fatal(err)
			}
			var exc *modbus.ExceptionError
			if _, err := missing.Read(context.Background()); !errors.As(err, &exc) || exc.Code != modbus.IllegalDataAddress {
				t.Errorf("Read of a missing register = %v; want exception 02", err)
			}
		})
	}
}

// fakeServer is a Modbus TCP server on loopback that answers requests
// with respond, one connection at a time, and counts connections.
type fakeServer struct {
	ln      net.Listener
	accepts chan net.Conn
}

func newFakeServer(t *testing.T, respond func(c net.Conn, tid uint16, unit byte, pdu []byte)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ln: ln, accepts: make(chan net.Conn, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepts <- c
			go func() {
				defer c.Close()
				for {
					var h [7]byte
					if _, err := io.ReadFull(c, h[:]); err != nil {
						return
					}
					pdu := make([]byte, binary.BigEndian.Uint16(h[4:6])-1)
					if _, err := io.ReadFull(c, pdu); err != nil {
						return
					}
					respond(c, binary.BigEndian.Uint16(h[0:2]), h[6], pdu)
				}
			}()
		}
	}()
	return f
}

// answer writes an MBAP answer of tid: function 4's byte count and words.
func answer(c net.Conn, tid uint16, unit byte, words ...uint16) {
	pdu := []byte{4, byte(2 * len(words))}
	for _, w := range words {
		pdu = binary.BigEndian.AppendUint16(pdu, w)
	}
	b := binary.BigEndian.AppendUint16(nil, tid)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(1+len(pdu)))
	c.Write(append(append(b, unit), pdu...))
}

func inputSensor(t *testing.T, server *modbus.Server, retries int) *modbus.Sensor {
	t.Helper()
	s, err := modbus.New(modbus.Config{Name: "u", Server: server, Settings: modbus.Settings{Slave: 1, ResponseTimeout: 300 * time.Millisecond, Retries: &retries,
		Registers: []modbus.Register{{Metric: "v", Function: modbus.InputRegisters, Address: 0, Type: modbus.Uint16}}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTCPSkipsStaleAnswers: a server slow to answer the first request
// answers it after the attempt gave up; the connection is made again,
// and an answer with another transaction id is never taken for the
// current request's.
func TestTCPSkipsStaleAnswers(t *testing.T) {
	var calls atomic.Int32 // each connection answers on a goroutine of its own
	f := newFakeServer(t, func(c net.Conn, tid uint16, unit byte, _ []byte) {
		if calls.Add(1) == 2 {
			answer(c, tid-1, unit, 111) // a stale answer first
		}
		answer(c, tid, unit, 42)
	})
	var servers modbus.Servers
	defer servers.Close()
	s := inputSensor(t, servers.Get(f.ln.Addr().String(), modbus.FramingMBAP), 0)
	for range 2 {
		rs, err := s.Read(context.Background())
		if err != nil || len(rs) != 1 || rs[0].Value != 42 {
			t.Fatalf("Read = %v, %v; want 42, the answer of its own transaction", rs, err)
		}
	}
	if len(f.accepts) != 1 {
		t.Errorf("%d connections; want 1, kept between reads", len(f.accepts))
	}
}

// TestTCPTimeoutReconnects: a request left unanswered closes the
// connection; the retry connects again.
func TestTCPTimeoutReconnects(t *testing.T) {
	var calls atomic.Int32
	f := newFakeServer(t, func(c net.Conn, tid uint16, unit byte, _ []byte) {
		if calls.Add(1) > 1 {
			answer(c, tid, unit, 7)
		}
	})
	var servers modbus.Servers
	defer servers.Close()
	s := inputSensor(t, servers.Get(f.ln.Addr().String(), modbus.FramingMBAP), 1)
	rs, err := s.Read(context.Background())
	if err != nil || len(rs) != 1 || rs[0].Value != 7 {
		t.Fatalf("Read = %v, %v; want 7 from the retry", rs, err)
	}
	if len(f.accepts) != 2 {
		t.Errorf("%d connections; want 2: the timeout closed the first", len(f.accepts))
	}
}

// TestTCPBacksOffARefusingServer: a server that refuses is not dialled
// again before its backoff; its reads fail saying so.
func TestTCPBacksOffARefusingServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connections are refused
	var servers modbus.Servers
	defer servers.Close()
	s := inputSensor(t, servers.Get(addr, modbus.FramingMBAP), 0)
	if _, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "connect "+addr) {
		t.Fatalf("first Read = %v; want the refused connection", err)
	}
	if _, err := s.Read(context.Background()); !errors.Is(err, modbus.ErrReconnecting) {
		t.Errorf("second Read at once = %v; want ErrReconnecting, the backoff", err)
	}
}
