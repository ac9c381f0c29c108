package bme280_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/iot-hub/agent/agent/sensors/bme280"
	"github.com/iot-hub/agent/agent/sensors/i2cbus"
)

// wantNamed checks that err names the bus and the address.
func wantNamed(t *testing.T, err error, addr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), busPath) || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %v; want it to name %s and %s", err, busPath, addr)
	}
}

func TestBusErrorMidReadReinitialises(t *testing.T) {
	raw := adc{T: 519888, P: 310000, H: 29000}
	init, measure := bench.initOps(defaults), bench.measureOps(defaults, 0, raw)
	for _, tt := range []struct {
		name   string
		failAt int            // the failing transaction, counting from 1
		before [][]i2ctest.IO // the transactions done before the failed read's reread
	}{
		// Read 1 initialises (5 transactions) and measures (3); read 2's
		// status poll, its 2nd transaction, fails.
		{"status poll", len(init) + len(measure) + 2, [][]i2ctest.IO{init, measure, measure[:1]}},
		// Read 1's calibration read, its 3rd transaction, fails.
		{"calibration read", 3, [][]i2ctest.IO{init[:2]}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ops := append(tt.before, init, measure)
				b, a := openBus(t, &hook{Bus: playback(t, ops...), At: tt.failAt, Fail: errRemoteIO})
				s := newSensor(t, b, bench, bme280.Config{})
				var err error
				for err == nil {
					_, err = s.Read(context.Background())
				}
				if !errors.Is(err, errRemoteIO) {
					t.Errorf("Read = %v; want the bus error, %v", err, errRemoteIO)
				}
				wantNamed(t, err, "0x76")
				if opens, closes := a.counts(); opens != 1 || closes != 1 {
					t.Errorf("after the bus error: %d opens, %d closes; want 1, 1", opens, closes)
				}
				rs, err := s.Read(context.Background())
				if err != nil || len(rs) != 3 {
					t.Fatalf("Read after the bus error = %v, %v; want three readings", rs, err)
				}
				if opens, _ := a.counts(); opens != 2 {
					t.Errorf("%d opens; want 2: the next read reopens the bus", opens)
				}
			})
		})
	}
}

func TestUnsupportedChip(t *testing.T) {
	for _, tt := range []struct {
		id   byte
		want string
	}{
		{0x55, "chip id 0x55, a BMP180"},
		{0x61, "chip id 0x61, a BME680"},
		{0x00, "chip id 0x00, an unknown device"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			b, a := openBus(t, playback(t, []i2ctest.IO{{Addr: 0x77, W: []byte{regChipID}, R: []byte{tt.id}}}))
			s := newSensor(t, b, device{addr: 0x77}, bme280.Config{})
			_, err := s.Read(context.Background())
			if !errors.Is(err, bme280.ErrUnsupportedChip) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Read = %v; want ErrUnsupportedChip saying %q", err, tt.want)
			}
			wantNamed(t, err, "0x77")
			if _, closes := a.counts(); closes != 0 {
				t.Error("a wrong chip id closed the bus; want it kept: the bus works")
			}
			if s.Chip() != "" {
				t.Errorf("Chip() = %q; want empty", s.Chip())
			}
		})
	}
}

func TestCtxEndingDuringStatusPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw := adc{T: 519888, P: 310000, H: 29000}
		init, busy := bench.initOps(defaults), bench.measureOps(defaults, 1, raw)[:2] // ctrl_meas, "measuring"
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := playback(t, init, busy, init, bench.measureOps(defaults, 0, raw))
		b, a := openBus(t, &hook{Bus: p, At: len(init) + len(busy), Before: cancel})
		s := newSensor(t, b, bench, bme280.Config{})
		_, err := s.Read(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read whose ctx ended while the chip was busy = %v; want context.Canceled", err)
		}
		wantNamed(t, err, "0x76")
		if _, closes := a.counts(); closes != 0 {
			t.Error("an ended ctx closed the bus; want it kept")
		}
		if _, err := s.Read(context.Background()); err != nil {
			t.Errorf("next Read = %v; want it to reinitialise and succeed", err)
		}
	})
}

func TestReadOnClosedBus(t *testing.T) {
	b, _ := openBus(t, playback(t))
	s := newSensor(t, b, bench, bme280.Config{})
	b.Close()
	_, err := s.Read(context.Background())
	if !errors.Is(err, i2cbus.ErrClosed) {
		t.Errorf("Read = %v; want i2cbus.ErrClosed", err)
	}
	wantNamed(t, err, "0x76")
}
