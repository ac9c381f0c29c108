package modbus_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
)

func TestRetry(t *testing.T) {
	noise := modbustest.Fault{Noise: []byte{0x00, 0xFF, 0x11}}
	truncated := modbustest.Fault{Truncate: 6}
	badCRC := modbustest.Fault{BadCRC: true}
	silent := modbustest.Fault{Silent: true}
	for _, tc := range []struct {
		name    string
		faults  []modbustest.Fault
		retries *int     // nil: the default
		err     error    // of the read; nil: it succeeds
		answers []string // of the requests, in order
	}{
		{"noise", []modbustest.Fault{noise}, nil, nil, []string{"damaged", "registers"}},
		{"truncated", []modbustest.Fault{truncated}, nil, nil, []string{"damaged", "registers"}},
		{"bad CRC", []modbustest.Fault{badCRC}, nil, nil, []string{"damaged", "registers"}},
		{"silent", []modbustest.Fault{silent}, nil, nil, []string{"silent", "registers"}},
		{"all kinds, then an answer", []modbustest.Fault{noise, truncated, badCRC, silent}, new(4), nil,
			[]string{"damaged", "damaged", "damaged", "silent", "registers"}},
		{"too much noise", []modbustest.Fault{noise, noise, noise}, nil, modbus.ErrCRC, []string{"damaged", "damaged", "damaged"}},
		{"always truncated", []modbustest.Fault{truncated, truncated, truncated}, nil, modbus.ErrFrame, []string{"damaged", "damaged", "damaged"}},
		{"always bad CRC", []modbustest.Fault{badCRC, badCRC}, new(0), modbus.ErrCRC, []string{"damaged"}},
		{"always silent", []modbustest.Fault{silent, silent, silent, silent}, new(3), modbus.ErrTimeout, []string{"silent", "silent", "silent", "silent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 19200)
			s5 := r.line.Slave(5)
			s5.SetInput(30, 0x0102, 0x0304)
			s5.Fail(tc.faults...)
			sen := r.sensor(t, modbus.Config{Settings: modbus.Settings{Slave: 5, Retries: tc.retries, Registers: []modbus.Register{
				{Metric: "count", Function: modbus.InputRegisters, Address: 30, Type: modbus.Uint32},
			}}})
			rs, err := sen.Read(context.Background())
			switch {
			case tc.err == nil && (err != nil || len(rs) != 1 || rs[0].Value != 0x01020304):
				t.Errorf("Read = %v, %v; want count %d", rs, err, 0x01020304)
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Errorf("Read = %v, %v; want %v", rs, err, tc.err)
			case tc.err != nil && !strings.HasPrefix(err.Error(), "modbus: slave 5, read input registers (4) 30-31: attempt "):
				t.Errorf("Read = %v; want it to name the slave, function, registers and attempt", err)
			}
			var answers []string
			for _, q := range r.line.Requests() {
				answers = append(answers, q.Answer.String())
			}
			if !slices.Equal(answers, tc.answers) {
				t.Errorf("answers %q; want %q", answers, tc.answers)
			}
		})
	}
}
