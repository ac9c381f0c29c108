package modbus_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
)

// words32 returns v's high and low words.
func words32(v uint32) (hi, lo uint16) { return uint16(v >> 16), uint16(v) }

func TestReadTypesAndWordOrders(t *testing.T) {
	r := newRig(t, 19200)
	s7 := r.line.Slave(7)
	neg := uint32(0xFFFF_FFFF - 70000 + 1) // -70000
	negHi, negLo := words32(neg)
	fHi, fLo := words32(math.Float32bits(-12.375))
	s7.SetHolding(100, 0xFF9C)         // int16 -100
	s7.SetHolding(101, 0xFF9C)         // uint16 65436
	s7.SetHolding(102, negHi, negLo)   // int32 big -70000
	s7.SetHolding(104, negLo, negHi)   // int32 little -70000
	s7.SetHolding(106, 0x0001, 0x86A0) // uint32 big 100000
	s7.SetHolding(108, 0x86A0, 0x0001) // uint32 little 100000
	s7.SetHolding(110, fHi, fLo)       // float32 big -12.375
	s7.SetHolding(112, fLo, fHi)       // float32 little -12.375
	s7.SetInput(0, 2215)               // uint16 × 0.01 - 1; a gap follows
	s7.SetInput(5, 0xFFFF)             // int16 × 10 + 0.5
	sen := r.sensor(t, modbus.Config{Settings: modbus.Settings{Slave: 7, Registers: []modbus.Register{
		{Metric: "temperature", Unit: "Cel", Function: modbus.InputRegisters, Address: 0, Type: modbus.Uint16, Scale: 0.01, Offset: -1},
		{Metric: "i16", Function: modbus.HoldingRegisters, Address: 100, Type: modbus.Int16},
		{Metric: "u16", Function: modbus.HoldingRegisters, Address: 101, Type: modbus.Uint16},
		{Metric: "i32", Function: modbus.HoldingRegisters, Address: 102, Type: modbus.Int32},
		{Metric: "i32le", Function: modbus.HoldingRegisters, Address: 104, Type: modbus.Int32, WordOrder: modbus.LowWordFirst},
		{Metric: "u32", Function: modbus.HoldingRegisters, Address: 106, Type: modbus.Uint32, WordOrder: modbus.HighWordFirst},
		{Metric: "u32le", Function: modbus.HoldingRegisters, Address: 108, Type: modbus.Uint32, WordOrder: modbus.LowWordFirst},
		{Metric: "f32", Unit: "V", Function: modbus.HoldingRegisters, Address: 110, Type: modbus.Float32},
		{Metric: "f32le", Function: modbus.HoldingRegisters, Address: 112, Type: modbus.Float32, WordOrder: modbus.LowWordFirst},
		{Metric: "scaled", Function: modbus.InputRegisters, Address: 5, Type: modbus.Int16, Scale: 10, Offset: 0.5},
	}}})
	got := read(t, sen)
	want := []sensors.Reading{
		{Metric: "temperature", Value: 21.15, Unit: "Cel"},
		{Metric: "i16", Value: -100},
		{Metric: "u16", Value: 65436},
		{Metric: "i32", Value: -70000},
		{Metric: "i32le", Value: -70000},
		{Metric: "u32", Value: 100000},
		{Metric: "u32le", Value: 100000},
		{Metric: "f32", Value: -12.375, Unit: "V"},
		{Metric: "f32le", Value: -12.375},
		{Metric: "scaled", Value: -9.5},
	}
	if !readingsEqual(got, want) {
		t.Errorf("Read = %v; want %v", got, want)
	}
	// One request for the 14 adjacent holding registers; the input
	// registers' gap is not bridged.
	wantReqs := []string{"slave 7 fn 3 100+14: registers", "slave 7 fn 4 0+1: registers", "slave 7 fn 4 5+1: registers"}
	if got := r.requests(); !slices.Equal(got, wantReqs) {
		t.Errorf("requests %q; want %q", got, wantReqs)
	}
}

// readingsEqual compares readings, values to 1e-9.
func readingsEqual(a, b []sensors.Reading) bool {
	return slices.EqualFunc(a, b, func(x, y sensors.Reading) bool {
		return x.Metric == y.Metric && x.Unit == y.Unit && math.Abs(x.Value-y.Value) < 1e-9
	})
}

func TestReadSplitsAt125Registers(t *testing.T) {
	r := newRig(t, 115200)
	words := make([]uint16, 130)
	var regs []modbus.Register
	for i := range words {
		words[i] = uint16(1000 + i)
		regs = append(regs, modbus.Register{Metric: fmt.Sprint("r", i), Function: modbus.HoldingRegisters, Address: uint16(2000 + i), Type: modbus.Uint16})
	}
	r.line.Slave(1).SetHolding(2000, words...)
	got := read(t, r.sensor(t, modbus.Config{Settings: modbus.Settings{Slave: 1, Registers: regs}}))
	for i, rd := range got {
		if rd.Value != float64(1000+i) {
			t.Errorf("reading %d = %v; want %d", i, rd, 1000+i)
		}
	}
	want := []string{"slave 1 fn 3 2000+125: registers", "slave 1 fn 3 2125+5: registers"}
	if got := r.requests(); !slices.Equal(got, want) {
		t.Errorf("requests %q; want %q", got, want)
	}
}

func TestReadOverlappingRegisters(t *testing.T) {
	r := newRig(t, 19200)
	r.line.Slave(3).SetInput(10, 0x0001, 0x0002)
	got := read(t, r.sensor(t, modbus.Config{Settings: modbus.Settings{Slave: 3, Registers: []modbus.Register{
		{Metric: "both", Function: modbus.InputRegisters, Address: 10, Type: modbus.Uint32},
		{Metric: "low", Function: modbus.InputRegisters, Address: 11, Type: modbus.Uint16},
		{Metric: "high", Function: modbus.InputRegisters, Address: 10, Type: modbus.Uint16},
	}}}))
	want := []sensors.Reading{{Metric: "both", Value: 65538}, {Metric: "low", Value: 2}, {Metric: "high", Value: 1}}
	if !readingsEqual(got, want) {
		t.Errorf("Read = %v; want %v", got, want)
	}
	if got, want := r.requests(), []string{"slave 3 fn 4 10+2: registers"}; !slices.Equal(got, want) {
		t.Errorf("requests %q; want %q", got, want)
	}
}

func TestReadNotFinite(t *testing.T) {
	r := newRig(t, 19200)
	r.line.Slave(2).SetHolding(0, 0x7FC0, 0x0000, 0x4120, 0x0000) // NaN, 10
	sen := r.sensor(t, modbus.Config{Settings: modbus.Settings{Slave: 2, Registers: []modbus.Register{
		{Metric: "power", Function: modbus.HoldingRegisters, Address: 0, Type: modbus.Float32},
		{Metric: "energy", Function: modbus.HoldingRegisters, Address: 2, Type: modbus.Float32},
	}}})
	rs, err := sen.Read(context.Background())
	want := `modbus: slave 2: metric "power" (holding registers 0-1): NaN: value is not finite`
	if !errors.Is(err, modbus.ErrNotFinite) || err.Error() != want || rs != nil {
		t.Errorf("Read = %v, %v; want %s", rs, err, want)
	}
}

func TestException(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault []byte // exception codes the slave answers with, one a request
		addr  uint16
		code  modbus.ExceptionCode
		msg   string
	}{
		{"no such register", nil, 40, modbus.IllegalDataAddress,
			"modbus: slave 9, read holding registers (3) 40-41: attempt 1 of 3: exception 02 (illegal data address)"},
		{"busy", []byte{6}, 0, modbus.ServerDeviceBusy,
			"modbus: slave 9, read holding registers (3) 0-1: attempt 1 of 3: exception 06 (server device busy)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 19200)
			s9 := r.line.Slave(9)
			s9.SetHolding(0, 1, 2)
			for _, c := range tc.fault {
				s9.Fail(modbustest.Fault{Exception: c})
			}
			sen := r.sensor(t, modbus.Config{Settings: modbus.Settings{Slave: 9, Registers: []modbus.Register{
				{Metric: "m", Function: modbus.HoldingRegisters, Address: tc.addr, Type: modbus.Int32},
			}}})
			_, err := sen.Read(context.Background())
			var exc *modbus.ExceptionError
			if !errors.As(err, &exc) || exc.Code != tc.code || exc.Function != modbus.HoldingRegisters || err.Error() != tc.msg {
				t.Errorf("Read = %v; want %s", err, tc.msg)
			}
			if got, want := r.requests(), []string{fmt.Sprintf("slave 9 fn 3 %d+2: exception", tc.addr)}; !slices.Equal(got, want) {
				t.Errorf("requests %q; want %q: an exception is not retried", got, want)
			}
		})
	}
}
