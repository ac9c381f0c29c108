package modbus_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/ptytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout is the response timeout of the tests' sensors: long
// enough that a loaded machine never misses an answer, as the slaves
// answer at once.
const testTimeout = 300 * time.Millisecond

// rig is a serial line of simulated slaves behind a by-id symlink, and
// the port the agent has on it.
type rig struct {
	link *ptytest.Link
	line *modbustest.Line
	port *serialport.Port
}

// newRig makes a rig at baud; the test's cleanup takes it down.
func newRig(t *testing.T, baud int) *rig {
	t.Helper()
	link := ptytest.NewLink(t)
	line := modbustest.NewLine(t, baud)
	line.Serve(link.Pair())
	port, err := serialport.New(serialport.Config{Path: link.Path(), Baud: baud, ReopenMin: time.Millisecond, ReopenMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := port.Close(); err != nil {
			t.Errorf("port Close = %v", err)
		}
	})
	return &rig{link: link, line: line, port: port}
}

// sensor returns a sensor of cfg on the rig's port, the test's timeout
// the default.
func (r *rig) sensor(t *testing.T, cfg modbus.Config) *modbus.Sensor {
	t.Helper()
	cfg.Port = r.port
	if cfg.Name == "" {
		cfg.Name = "meter"
	}
	if cfg.ResponseTimeout == 0 {
		cfg.ResponseTimeout = testTimeout
	}
	s, err := modbus.New(cfg)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return s
}

// requests returns the line's requests as strings.
func (r *rig) requests() []string {
	var out []string
	for _, q := range r.line.Requests() {
		out = append(out, q.String())
	}
	return out
}

// read reads s, failing the test on an error.
func read(t *testing.T, s *modbus.Sensor) []sensors.Reading {
	t.Helper()
	rs, err := s.Read(context.Background())
	if err != nil {
		t.Fatalf("Read = %v", err)
	}
	return rs
}
