package modbus_test

import (
	"bufio"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/ptytest"
)

// systemPython is the interpreter Debian's python3-pymodbus is
// installed for.
const systemPython = "/usr/bin/python3"

// requirePymodbus skips the test when pymodbus is not installed, or
// fails it when the CI environment variable is set.
func requirePymodbus(t *testing.T) {
	t.Helper()
	out, err := exec.Command(systemPython, "-c", "import pymodbus, serial_asyncio").CombinedOutput()
	if err == nil {
		return
	}
	msg := "pymodbus is missing (" + strings.TrimSpace(string(out)) + err.Error() + "): install Debian's python3-pymodbus package"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startPymodbus runs testdata/pymodbus_slave.py on path as slave, with
// the register tables given as the script's arguments, until the test
// ends; it returns once the server has its port open.
func startPymodbus(t *testing.T, path string, baud int, args ...string) {
	t.Helper()
	if line := runPymodbus(t, "testdata/pymodbus_slave.py", append([]string{path, itoa(baud)}, args...)...); line != "ready" {
		t.Fatalf("pymodbus server did not start: %q", line)
	}
}

// runPymodbus runs a pymodbus server script with args until the test
// ends, and returns the first line it prints, which says it is ready.
func runPymodbus(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command(systemPython, append([]string{script}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with the test binary
	cmd.Stderr = &strings.Builder{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line == "" {
			t.Fatalf("%s exited; stderr:\n%s", script, cmd.Stderr)
		}
		return strings.TrimSpace(line)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s not ready after 30s; stderr:\n%s", script, cmd.Stderr)
		return ""
	}
}

// TestPymodbusInterop reads registers from pymodbus's serial RTU server
// over a null modem: a Modbus implementation that none of this code
// comes from.
func TestPymodbusInterop(t *testing.T) {
	requirePymodbus(t)
	const baud = 19200
	cable := ptytest.NewNullModem(t)
	f32Hi, f32Lo := words32(math.Float32bits(230.5))
	i32Hi, i32Lo := words32(uint32(0xFFFF_FFFF - 123456 + 1)) // -123456
	startPymodbus(t, cable.PathB(), baud, "17",
		"100:"+join(0xFF85, f32Hi, f32Lo, i32Lo, i32Hi, 0, 0, 42), // holding 100..107
		"0:"+join(2150, 0xFFFF, 0x0001, 0x0000))                   // input 0..3
	port, err := serialport.New(serialport.Config{Path: cable.PathA(), Baud: baud})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	sen, err := modbus.New(modbus.Config{Name: "pymodbus", Port: port, Settings: modbus.Settings{Slave: 17, ResponseTimeout: time.Second, Registers: []modbus.Register{
		{Metric: "i16", Function: modbus.HoldingRegisters, Address: 100, Type: modbus.Int16},
		{Metric: "voltage", Unit: "V", Function: modbus.HoldingRegisters, Address: 101, Type: modbus.Float32},
		{Metric: "i32le", Function: modbus.HoldingRegisters, Address: 103, Type: modbus.Int32, WordOrder: modbus.LowWordFirst},
		{Metric: "u16", Function: modbus.HoldingRegisters, Address: 107, Type: modbus.Uint16},
		{Metric: "temperature", Unit: "Cel", Function: modbus.InputRegisters, Address: 0, Type: modbus.Uint16, Scale: 0.01},
		{Metric: "u32", Function: modbus.InputRegisters, Address: 1, Type: modbus.Uint32},
		{Metric: "zero", Function: modbus.InputRegisters, Address: 3, Type: modbus.Int16, Offset: -1},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []sensors.Reading{
		{Metric: "i16", Value: -123},
		{Metric: "voltage", Value: 230.5, Unit: "V"},
		{Metric: "i32le", Value: -123456},
		{Metric: "u16", Value: 42},
		{Metric: "temperature", Value: 21.5, Unit: "Cel"},
		{Metric: "u32", Value: 0xFFFF0001},
		{Metric: "zero", Value: -1},
	}
	for range 3 {
		rs, err := sen.Read(context.Background())
		if err != nil || !readingsEqual(rs, want) {
			t.Fatalf("Read = %v, %v; want %v", rs, err, want)
		}
	}

	// A register the server does not have: its exception.
	missing, err := modbus.New(modbus.Config{Name: "missing", Port: port, Settings: modbus.Settings{Slave: 17, Registers: []modbus.Register{
		{Metric: "m", Function: modbus.InputRegisters, Address: 500, Type: modbus.Uint16},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var exc *modbus.ExceptionError
	if _, err := missing.Read(context.Background()); !errors.As(err, &exc) || exc.Code != modbus.IllegalDataAddress {
		t.Errorf("Read of a missing register = %v; want exception 02", err)
	}
}

// join is "w1,w2,...", decimal.
func join(words ...uint16) string {
	s := make([]string, len(words))
	for i, w := range words {
		s[i] = itoa(int(w))
	}
	return strings.Join(s, ",")
}

func itoa(i int) string { return strconv.Itoa(i) }
