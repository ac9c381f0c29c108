package freeport_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/iot-hub/agent/internal/freeport"
)

// TestPortsAreFreeAndNeverTheSame: each port can be listened on, and
// none is handed out twice, however many are asked for.
func TestPortsAreFreeAndNeverTheSame(t *testing.T) {
	seen := map[int]bool{}
	for range 2000 {
		port, err := freeport.Port()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
	}
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen on the port handed out: %v", err)
	}
	l.Close()
}
