package modbus

import (
	"fmt"
	"math"
	"strconv"
)

// Register is one metric and where a slave keeps it: one register (16-bit
// types) or two adjacent ones (32-bit types) of a function's table. Its
// reading is raw × Scale + Offset. The yaml tags are the keys of an entry
// of a modbus-rtu sensor's registers, whose Function, Type, WordOrder and
// Scale Settings.SetDefaults fills in when they are left out.
type Register struct {
	// Metric names the reading: "temperature". Required, unique in a
	// sensor.
	Metric string `yaml:"metric"`
	// Unit is the reading's UCUM unit: "Cel", "%", "kW.h"; empty for a
	// count.
	Unit string `yaml:"unit,omitempty"`
	// Function is the table: HoldingRegisters (3) or InputRegisters (4).
	// Required.
	Function Function `yaml:"function,omitempty" limit:"3..4"`
	// Address is the first register's address on the wire, 0 to 65535:
	// what a data sheet calls 30001 or 40001 is address 0.
	Address uint16 `yaml:"address" limit:"0..65535"`
	// Type is how the register's words encode the value: int16, uint16,
	// int32, uint32 or float32, the 32-bit ones taking two registers.
	// Required.
	Type DataType `yaml:"type,omitempty"`
	// WordOrder is the order of the two words of a 32-bit type: big
	// (HighWordFirst, the Modbus convention) or little. Default big;
	// ignored for 16-bit types.
	WordOrder WordOrder `yaml:"wordOrder,omitempty"`
	// Scale multiplies the raw value. Default 1 (0 means 1); finite.
	Scale float64 `yaml:"scale,omitempty"`
	// Offset is added to the scaled value. Default 0; finite.
	Offset float64 `yaml:"offset,omitempty"`
}

// words is how many registers r spans.
func (r Register) words() uint16 { return r.Type.words() }

// value returns r's reading from its words, as many as r.words().
func (r Register) value(w []uint16) (float64, error) {
	var raw float64
	hi, lo := uint32(w[0]), uint32(0)
	if r.words() == 2 {
		lo = uint32(w[1])
		if r.WordOrder == LowWordFirst {
			hi, lo = lo, hi
		}
	}
	switch r.Type {
	case Int16:
		raw = float64(int16(hi))
	case Uint16:
		raw = float64(hi)
	case Int32:
		raw = float64(int32(hi<<16 | lo))
	case Uint32:
		raw = float64(hi<<16 | lo)
	case Float32:
		f := math.Float32frombits(hi<<16 | lo)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return 0, fmt.Errorf("metric %q (%s %d-%d): %v: %w", r.Metric, r.Function.table(), r.Address, r.Address+1, f, ErrNotFinite)
		}
		raw = float64(f)
	}
	scale := r.Scale
	if scale == 0 {
		scale = 1
	}
	v := raw*scale + r.Offset
	if math.IsInf(v, 0) {
		return 0, fmt.Errorf("metric %q: %v × %v + %v: %w", r.Metric, raw, scale, r.Offset, ErrNotFinite)
	}
	return v, nil
}

// Function is a Modbus function code; the driver reads with two.
type Function uint8

// Functions the driver reads with.
const (
	// HoldingRegisters is function 3, Read Holding Registers.
	HoldingRegisters Function = 3
	// InputRegisters is function 4, Read Input Registers.
	InputRegisters Function = 4
)

// String returns "read holding registers (3)", "read input registers
// (4)", or "function N".
func (f Function) String() string {
	switch f {
	case HoldingRegisters, InputRegisters:
		return "read " + f.table() + " (" + strconv.Itoa(int(f)) + ")"
	}
	return "function " + strconv.Itoa(int(f))
}

// table names the register table f reads.
func (f Function) table() string {
	switch f {
	case HoldingRegisters:
		return "holding registers"
	case InputRegisters:
		return "input registers"
	}
	return "registers of function " + strconv.Itoa(int(f))
}

// DataType is how a value is encoded in registers. Every register is
// big-endian (high byte first), as Modbus defines.
type DataType string

// Data types.
const (
	Int16   DataType = "int16"   // one register, two's complement
	Uint16  DataType = "uint16"  // one register
	Int32   DataType = "int32"   // two registers, two's complement
	Uint32  DataType = "uint32"  // two registers
	Float32 DataType = "float32" // two registers, IEEE 754 single precision
)

// dataTypes lists the data types, for validation messages.
var dataTypes = []DataType{Int16, Uint16, Int32, Uint32, Float32}

// String returns the type's name, "int16".
func (t DataType) String() string { return string(t) }

// words is how many registers a value of type t spans; 0 for an unknown
// type.
func (t DataType) words() uint16 {
	switch t {
	case Int16, Uint16:
		return 1
	case Int32, Uint32, Float32:
		return 2
	}
	return 0
}

// WordOrder is the order of the two registers of a 32-bit value.
type WordOrder string

// Word orders.
const (
	// HighWordFirst: the register at Address holds the high 16 bits
	// ("big", ABCD). The Modbus convention, and the default.
	HighWordFirst WordOrder = "big"
	// LowWordFirst: the register at Address holds the low 16 bits
	// ("little", CDAB), as many meters do.
	LowWordFirst WordOrder = "little"
)

// String returns the order's name, "big" or "little".
func (o WordOrder) String() string { return string(o) }
