package serialport_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/ptytest"
)

func TestPorts(t *testing.T) {
	a, b := ptytest.NewPair(t), ptytest.NewPair(t)
	var ps serialport.Ports
	pa, err := ps.Get(serialport.Config{Path: a.Path()})
	if err != nil {
		t.Fatal(err)
	}
	again, err := ps.Get(serialport.Config{Path: a.Path(), Baud: 9600, DataBits: 8, Parity: serialport.ParityNone, StopBits: 1})
	if err != nil || again != pa {
		t.Errorf("Get(same path, same framing) = %p, %v; want %p", again, err, pa)
	}
	_, err = ps.Get(serialport.Config{Path: a.Path(), Baud: 19200, Parity: serialport.ParityEven})
	if err == nil || !strings.Contains(err.Error(), a.Path()) || !strings.Contains(err.Error(), "9600 8N1") || !strings.Contains(err.Error(), "19200 8E1") {
		t.Errorf("Get(same path, other framing) = %v; want an error naming the path, 9600 8N1 and 19200 8E1", err)
	}
	pb, err := ps.Get(serialport.Config{Path: b.Path(), StopBits: 2})
	if err != nil || pb == pa {
		t.Errorf("Get(other path) = %p, %v; want a new port", pb, err)
	}
	if _, err := ps.Get(serialport.Config{Path: b.Path(), DataBits: 9}); err == nil || !strings.Contains(err.Error(), "DataBits") {
		t.Errorf("Get(invalid) = %v; want an error naming DataBits", err)
	}
	for _, p := range []*serialport.Port{pa, pb} {
		if err := p.Do(t.Context(), errFn(nil)); err != nil {
			t.Fatalf("Do = %v", err)
		}
	}
	if err := ps.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	for _, p := range []*serialport.Port{pa, pb} {
		if err := p.Do(t.Context(), errFn(nil)); !errors.Is(err, serialport.ErrClosed) {
			t.Errorf("Do after Ports.Close = %v; want ErrClosed", err)
		}
	}
	if _, err := ps.Get(serialport.Config{Path: a.Path()}); !errors.Is(err, serialport.ErrClosed) {
		t.Errorf("Get after Close = %v; want ErrClosed", err)
	}
}
