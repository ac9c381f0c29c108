package modbus

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRegisterValue(t *testing.T) {
	f32 := func(f float32) (hi, lo uint16) { b := math.Float32bits(f); return uint16(b >> 16), uint16(b) }
	piHi, piLo := f32(3.25)
	for _, tc := range []struct {
		name  string
		r     Register
		words []uint16
		want  float64
	}{
		{"int16 negative", Register{Type: Int16}, []uint16{0xFF38}, -200},
		{"int16 positive", Register{Type: Int16}, []uint16{0x7FFF}, 32767},
		{"uint16", Register{Type: Uint16}, []uint16{0xFF38}, 65336},
		{"int32 big", Register{Type: Int32}, []uint16{0xFFFF, 0xFFFE}, -2},
		{"int32 big default", Register{Type: Int32, WordOrder: HighWordFirst}, []uint16{0x0001, 0x0002}, 65538},
		{"int32 little", Register{Type: Int32, WordOrder: LowWordFirst}, []uint16{0xFFFE, 0xFFFF}, -2},
		{"uint32 big", Register{Type: Uint32}, []uint16{0xFFFF, 0xFFFE}, 4294967294},
		{"uint32 little", Register{Type: Uint32, WordOrder: LowWordFirst}, []uint16{0x0002, 0x0001}, 65538},
		{"float32 big", Register{Type: Float32}, []uint16{piHi, piLo}, 3.25},
		{"float32 little", Register{Type: Float32, WordOrder: LowWordFirst}, []uint16{piLo, piHi}, 3.25},
		{"word order ignored for 16 bits", Register{Type: Uint16, WordOrder: LowWordFirst}, []uint16{0x0102}, 258},
		{"scale", Register{Type: Int16, Scale: 0.1}, []uint16{0x00D7}, 21.5},
		{"scale and offset", Register{Type: Uint16, Scale: 0.5, Offset: -40}, []uint16{100}, 10},
		{"offset, default scale", Register{Type: Uint16, Offset: 1000}, []uint16{5}, 1005},
		{"negative scale", Register{Type: Int16, Scale: -2}, []uint16{3}, -6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.r.value(tc.words)
			if err != nil || math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("value(%04X) = %v, %v; want %v", tc.words, got, err, tc.want)
			}
		})
	}
}

func TestRegisterValueNotFinite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     Register
		words []uint16
	}{
		{"NaN", Register{Metric: "power", Type: Float32}, []uint16{0x7FC0, 0x0000}},
		{"+Inf", Register{Metric: "power", Type: Float32}, []uint16{0x7F80, 0x0000}},
		{"-Inf little", Register{Metric: "power", Type: Float32, WordOrder: LowWordFirst}, []uint16{0x0000, 0xFF80}},
		{"overflow by scale", Register{Metric: "power", Type: Float32, Scale: 1e300}, []uint16{0x7F7F, 0xFFFF}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.r.value(tc.words)
			if !errors.Is(err, ErrNotFinite) || !strings.Contains(err.Error(), `"power"`) {
				t.Errorf("value(%04X) = %v, %v; want ErrNotFinite naming the metric", tc.words, v, err)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{HoldingRegisters.String(), "read holding registers (3)"},
		{InputRegisters.String(), "read input registers (4)"},
		{Function(6).String(), "function 6"},
		{Float32.String(), "float32"},
		{LowWordFirst.String(), "little"},
		{request{17, InputRegisters, 100, 4}.String(), "slave 17, read input registers (4) 100-103"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q; want %q", tc.got, tc.want)
		}
	}
}
