package ads1115

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/iot-hub/agent/agent/sensors/i2cbus"
	"github.com/iot-hub/agent/agent/sensors/i2cbus/i2cbustest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// conversion is the transcript of one single-shot conversion at address
// 0x48: the config written (OS set), the config read back busy times
// with OS clear and then with OS set, and the conversion register.
func conversion(config uint16, busy int, result uint16) []i2ctest.IO {
	ops := []i2ctest.IO{{Addr: 0x48, W: []byte{0x01, byte(config >> 8), byte(config)}}}
	for range busy {
		ops = append(ops, i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{byte((config &^ 0x8000) >> 8), byte(config)}})
	}
	ops = append(ops, i2ctest.IO{Addr: 0x48, W: []byte{0x01}, R: []byte{byte(config >> 8), byte(config)}})
	return append(ops, i2ctest.IO{Addr: 0x48, W: []byte{0x00}, R: []byte{byte(result >> 8), byte(result)}})
}

// TestReadChannels reads two channels: AIN0 against ground at ±4.096 V,
// a 4–20 mA loop across a 150 Ω shunt scaled to 0–10 bar; and AIN2-AIN3
// at ±0.256 V, negative. The config words are the datasheet's bits:
//
//	AIN0, ±4.096 V, 860 SPS: OS 1 | MUX 100 | PGA 001 | MODE 1 | DR 111 | COMP_QUE 11 = 0xC3E3
//	AIN2-AIN3, ±0.256 V:     OS 1 | MUX 011 | PGA 101 | MODE 1 | DR 111 | COMP_QUE 11 = 0xBBE3
func TestReadChannels(t *testing.T) {
	// 12 mA × 150 Ω = 1.8 V = 14400 steps of 4.096/32768; −0.1 V = −12800 steps of 0.256/32768.
	ops := append(conversion(0xC3E3, 1, 14400), conversion(0xBBE3, 0, uint16(0x10000-12800))...)
	b := i2cbustest.Playback(t, ops...)
	// bar = (V/150 Ω − 4 mA) × 10 bar / 16 mA = V × 4.1667 − 2.5
	s := Settings{DataRate: 860, Channels: []Channel{
		{Metric: "pressure", Input: "AIN0", Scale: 10 / 0.016 / 150, Offset: -2.5, Unit: "bar"},
		{Metric: "shunt", Input: "AIN2-AIN3", Range: 0.256},
	}}
	s.SetDefaults()
	sn, err := New(s.Config("loop", b))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := sn.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Metric != "pressure" || rs[0].Unit != "bar" || math.Abs(rs[0].Value-5) > 1e-9 ||
		rs[1].Metric != "shunt" || rs[1].Unit != "V" || math.Abs(rs[1].Value+0.1) > 1e-9 {
		t.Errorf("Read = %+v; want pressure 5 bar, shunt -0.1 V", rs)
	}
}

// TestConversionNeverDone: a chip whose OS bit stays clear fails the
// read after three periods, rather than returning the previous result.
func TestConversionNeverDone(t *testing.T) {
	b := i2cbus.Open("/dev/i2c-1", func(string) (i2c.BusCloser, error) { return stuck{}, nil })
	defer b.Close()
	s := Settings{DataRate: 860, Channels: []Channel{{Metric: "v", Input: "AIN0"}}}
	s.SetDefaults()
	sn, err := New(s.Config("adc", b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Read(context.Background()); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "ads1115 /dev/i2c-1 0x48: v (AIN0)") {
		t.Errorf("Read = %v; want ErrBusy naming the chip and channel", err)
	}
}

// stuck is a chip whose config register always reads OS clear: a
// conversion that never ends.
type stuck struct{}

func (stuck) Tx(_ uint16, _, r []byte) error {
	copy(r, []byte{0x43, 0xE3})
	return nil
}
func (stuck) SetSpeed(physic.Frequency) error { return nil }
func (stuck) String() string                  { return "stuck" }
func (stuck) Close() error                    { return nil }

func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want string
	}{
		{Settings{Channels: []Channel{{Metric: "v", Input: "AIN1-AIN3"}}}, ""},
		{Settings{}, "channels"},
		{Settings{DataRate: 100, Channels: []Channel{{Metric: "v", Input: "AIN0"}}}, "dataRate"},
		{Settings{Channels: []Channel{{Metric: "v", Input: "AIN1-AIN2"}}}, "channels[0].input"},
		{Settings{Channels: []Channel{{Metric: "v", Input: "AIN0", Range: 5}}}, "channels[0].range"},
		{Settings{Channels: []Channel{{Metric: "v", Input: "AIN0"}, {Metric: "v", Input: "AIN1"}}}, "channels[1].metric"},
		{Settings{Channels: []Channel{{Input: "AIN0"}}}, "channels[0].metric"},
	} {
		tc.s.SetDefaults()
		err := tc.s.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v; want an error on %q", tc.s, err, tc.want)
		}
	}
}

// FuzzVolts: whatever the conversion register holds, the value is
// within the full-scale range.
func FuzzVolts(f *testing.F) {
	f.Add(uint16(0x7fff), 6.144)
	f.Add(uint16(0x8000), 0.256)
	f.Fuzz(func(t *testing.T, raw uint16, fsr float64) {
		if _, ok := ranges[fsr]; !ok {
			return
		}
		if v := volts(int16(raw), fsr); math.IsNaN(v) || v < -fsr || v >= fsr {
			t.Fatalf("volts(%#x, %v) = %v", raw, fsr, v)
		}
	})
}
