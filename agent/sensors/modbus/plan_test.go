package modbus

import (
	"fmt"
	"slices"
	"testing"
)

func TestPlan(t *testing.T) {
	reg := func(fn Function, addr uint16, typ DataType) Register {
		return Register{Metric: fmt.Sprint(fn, addr), Function: fn, Address: addr, Type: typ}
	}
	for _, tc := range []struct {
		name string
		regs []Register
		want []string // request and the indexes of its registers
	}{
		{"one", []Register{reg(3, 10, Uint16)}, []string{"3 10+1 [0]"}},
		{"adjacent", []Register{reg(3, 10, Uint16), reg(3, 11, Float32), reg(3, 13, Int16)}, []string{"3 10+4 [0 1 2]"}},
		{"out of order", []Register{reg(3, 13, Int16), reg(3, 10, Uint16), reg(3, 11, Float32)}, []string{"3 10+4 [1 2 0]"}},
		{"overlapping", []Register{reg(4, 0, Uint32), reg(4, 1, Uint16)}, []string{"4 0+2 [0 1]"}},
		{"same register twice", []Register{reg(4, 7, Int16), reg(4, 7, Uint16)}, []string{"4 7+1 [0 1]"}},
		{"gap not bridged", []Register{reg(3, 10, Uint16), reg(3, 12, Uint16)}, []string{"3 10+1 [0]", "3 12+1 [1]"}},
		{"functions apart", []Register{reg(4, 10, Uint16), reg(3, 11, Uint16)}, []string{"3 11+1 [1]", "4 10+1 [0]"}},
		{"split at 125", append(seq(3, 0, 124, Uint16), reg(3, 124, Uint32)), []string{"3 0+124 " + indexes(0, 124), "3 124+2 [124]"}},
		{"125 exactly", seq(3, 1000, 125, Uint16), []string{"3 1000+125 " + indexes(0, 125)}},
		{"126", seq(4, 0, 126, Uint16), []string{"4 0+125 " + indexes(0, 125), "4 125+1 [125]"}},
		{"last register", []Register{reg(3, 65534, Float32), reg(3, 65535, Uint16)}, []string{"3 65534+2 [0 1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, b := range plan(9, tc.regs) {
				if b.slave != 9 {
					t.Errorf("request %v: slave %d; want 9", b.request, b.slave)
				}
				got = append(got, fmt.Sprintf("%d %d+%d %v", b.function, b.address, b.count, b.regs))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("plan = %q; want %q", got, tc.want)
			}
		})
	}
}

// seq returns n adjacent registers of type typ from addr on.
func seq(fn Function, addr uint16, n int, typ DataType) []Register {
	var rs []Register
	for i := range n {
		a := addr + uint16(i)*typ.words()
		rs = append(rs, Register{Metric: fmt.Sprint(a), Function: fn, Address: a, Type: typ})
	}
	return rs
}

// indexes is "[from from+1 ... to-1]".
func indexes(from, to int) string {
	var is []int
	for i := from; i < to; i++ {
		is = append(is, i)
	}
	return fmt.Sprint(is)
}
