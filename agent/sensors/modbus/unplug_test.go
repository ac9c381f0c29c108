package modbus_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
	"github.com/iot-hub/agent/agent/sensors/serialport"
)

// TestUnplugAndReplug: the adapter is pulled during a read, and comes
// back under another tty behind the same by-id link; the same sensor
// reads again, without a restart.
func TestUnplugAndReplug(t *testing.T) {
	r := newRig(t, 19200)
	r.line.Slave(8).SetInput(3, 1234)
	sen := r.sensor(t, modbus.Config{Settings: modbus.Settings{Slave: 8, Registers: []modbus.Register{
		{Metric: "flow", Unit: "L/min", Function: modbus.InputRegisters, Address: 3, Type: modbus.Uint16, Scale: 0.1},
	}}})
	if rs := read(t, sen); rs[0].Value != 123.4 {
		t.Fatalf("Read = %v; want 123.4", rs)
	}
	before := r.link.Pair().Path()

	// The next request reaches the slave, which stays quiet until the
	// adapter is gone.
	reached, unplugged := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.line.OnRequest(func(modbustest.Request) {
		once.Do(func() { close(reached) })
		<-unplugged
	})
	done := make(chan error, 1)
	go func() {
		_, err := sen.Read(context.Background())
		done <- err
	}()
	<-reached
	r.link.Unplug()
	close(unplugged)
	if err := <-done; !errors.Is(err, serialport.ErrPortLost) {
		t.Fatalf("Read while the adapter is pulled = %v; want %v", err, serialport.ErrPortLost)
	}
	r.line.OnRequest(nil)

	// While unplugged, reads fail at once: the link is gone.
	_, err := sen.Read(context.Background())
	var oe *serialport.OpenError
	if !errors.As(err, &oe) || !errors.Is(err, serialport.ErrUnavailable) {
		t.Fatalf("Read while unplugged = %v; want a serialport.OpenError", err)
	}

	pair := r.link.Replug()
	r.line.Serve(pair)
	if pair.Path() == before {
		t.Fatalf("replugged under %s again; want another tty", before)
	}
	r.line.Slave(8).SetInput(3, 4321)
	<-time.After(time.Until(oe.Next)) // the port's backoff after the failed open
	if rs := read(t, sen); rs[0].Value != 432.1 {
		t.Errorf("Read after the replug = %v; want 432.1", rs)
	}
}
