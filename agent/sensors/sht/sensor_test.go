package sht

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/iot-hub/agent/agent/sensors/i2cbus/i2cbustest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Sensirion's example (both datasheets, "Checksum Calculation"): the CRC
// of 0xBEEF is 0x92.
func TestCRC8OfTheDatasheetsExample(t *testing.T) {
	if got := crc8([]byte{0xbe, 0xef}); got != 0x92 {
		t.Errorf("crc8(be ef) = %02x; want 92", got)
	}
}

// measurement is the six bytes a chip answers: raw T and RH with their
// CRCs.
func measurement(st, srh uint16) []byte {
	b := []byte{byte(st >> 8), byte(st)}
	b = append(b, crc8(b))
	h := []byte{byte(srh >> 8), byte(srh)}
	return append(append(b, h...), crc8(h))
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-3 }

// TestReadBothChips plays each chip's transaction: its measure command,
// then a read of six bytes, and converts by its datasheet's formulas.
func TestReadBothChips(t *testing.T) {
	for _, tc := range []struct {
		chip     Chip
		addr     uint16
		cmd      []byte
		st, srh  uint16
		temp, rh float64
	}{
		// T = −45 + 175·26214/65535 = 25.0007; RH = −6 + 125·32768/65535 = 56.5010
		{SHT4x, 0x44, []byte{0xfd}, 0x6666, 0x8000, 25.0007, 56.5010},
		// RH = 100·32768/65535 = 50.0008
		{SHT3x, 0x45, []byte{0x24, 0x00}, 0x6666, 0x8000, 25.0007, 50.0008},
		// The SHT4x's RH formula reaches −6 and 119: clipped to 0..100.
		{SHT4x, 0x46, []byte{0xfd}, 0x0000, 0x0000, -45, 0},
		{SHT4x, 0x44, []byte{0xfd}, 0xffff, 0xffff, 130, 100},
	} {
		t.Run(tc.chip.String(), func(t *testing.T) {
			b := i2cbustest.Playback(t, i2ctest.IO{Addr: tc.addr, W: tc.cmd}, i2ctest.IO{Addr: tc.addr, R: measurement(tc.st, tc.srh)})
			s, err := New(Settings{Address: tc.addr}.Config("room", tc.chip, b))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := s.Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 2 || rs[0].Metric != "temperature" || rs[0].Unit != "Cel" || !near(rs[0].Value, tc.temp) ||
				rs[1].Metric != "humidity" || rs[1].Unit != "%" || !near(rs[1].Value, tc.rh) {
				t.Errorf("Read = %+v; want temperature %.4f Cel, humidity %.4f %%", rs, tc.temp, tc.rh)
			}
		})
	}
}

// TestBadCRCIsAFailure: a damaged byte, in either value, fails the read.
func TestBadCRCIsAFailure(t *testing.T) {
	for _, at := range []int{1, 4} {
		m := measurement(0x6666, 0x8000)
		m[at] ^= 0x01
		b := i2cbustest.Playback(t, i2ctest.IO{Addr: 0x44, W: []byte{0xfd}}, i2ctest.IO{Addr: 0x44, R: m})
		s, _ := New(Settings{Address: 0x44}.Config("room", SHT4x, b))
		if rs, err := s.Read(context.Background()); !errors.Is(err, ErrCRC) {
			t.Errorf("byte %d damaged: Read = %v, %v; want ErrCRC", at, rs, err)
		}
	}
}

// TestNoChip: a chip that does not answer fails the read, naming the
// chip, the bus and the address.
func TestNoChip(t *testing.T) {
	b := i2cbustest.Playback(t) // no transaction expected: the playback refuses the first
	s, _ := New(Settings{Address: 0x44}.Config("room", SHT3x, b))
	_, err := s.Read(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "sht3x /dev/i2c-1 0x44: measure") {
		t.Errorf("Read = %v; want an error naming sht3x /dev/i2c-1 0x44", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	s := Settings{}
	s.SetDefaults()
	if s.Bus != DefaultBus || s.Address != 0x44 {
		t.Errorf("defaults %+v", s)
	}
	if err := s.Validate(SHT4x); err != nil {
		t.Error(err)
	}
	if err := (Settings{Bus: "/dev/i2c-1", Address: 0x46}).Validate(SHT3x); err == nil {
		t.Error("an SHT3x at 0x46: nil error")
	}
	if err := (Settings{Bus: "/dev/ttyUSB0", Address: 0x44}).Validate(SHT4x); err == nil {
		t.Error("bus /dev/ttyUSB0: nil error")
	}
}
