package bme280_test

import (
	"encoding/binary"
	"math"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

// The BME280's registers (datasheet §5.3, Table 18).
const (
	regCalibTP  = 0x88 // calib00..calib25: dig_T1..dig_P9, a reserved byte, dig_H1
	regChipID   = 0xD0 // 0x60 on a BME280, 0x58 on a BMP280
	regCalibH   = 0xE1 // calib26..calib32: dig_H2..dig_H6
	regCtrlHum  = 0xF2 // osrs_h[2:0]; takes effect at the next ctrl_meas write
	regStatus   = 0xF3 // measuring[3], im_update[0]
	regCtrlMeas = 0xF4 // osrs_t[7:5] osrs_p[4:2] mode[1:0]
	regConfig   = 0xF5 // t_sb[7:5] filter[4:2] spi3w_en[0]
	regData     = 0xF7 // press_msb..press_xlsb, temp_msb..temp_xlsb, hum_msb, hum_lsb

	chipBME280 = 0x60
	chipBMP280 = 0x58

	modeSleep  = 0b00
	modeForced = 0b01

	statusMeasuring = 1 << 3

	// configDefault is config as bmxx80 writes it in forced mode:
	// t_sb 1000 ms (unused in forced mode), filter off.
	configDefault = 0b101_000_00
)

// calibration is a device's trimming parameters (datasheet §4.2.2,
// Table 16).
type calibration struct {
	T1         uint16
	T2, T3     int16
	P1         uint16
	P2, P3, P4 int16
	P5, P6, P7 int16
	P8, P9     int16
	H1         uint8
	H2         int16
	H3         uint8
	H4, H5     int16 // 12 bits each, packed in 0xE4..0xE6
	H6         int8
}

// bytesTP returns calib00..calib25, at 0x88..0xA1: little-endian words,
// the reserved byte 0xA0, then dig_H1.
func (c calibration) bytesTP() []byte {
	b := binary.LittleEndian.AppendUint16(nil, c.T1)
	for _, v := range []int16{c.T2, c.T3} {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	b = binary.LittleEndian.AppendUint16(b, c.P1)
	for _, v := range []int16{c.P2, c.P3, c.P4, c.P5, c.P6, c.P7, c.P8, c.P9} {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return append(b, 0x00, c.H1)
}

// bytesH returns calib26..calib32, at 0xE1..0xE7: dig_H2 (LE), dig_H3,
// dig_H4 = E4[7:0]<<4 | E5[3:0], dig_H5 = E6[7:0]<<4 | E5[7:4], dig_H6.
func (c calibration) bytesH() []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(c.H2))
	return append(b, c.H3,
		byte(c.H4>>4), byte(c.H4&0x0F)|byte(c.H5&0x0F)<<4, byte(c.H5>>4),
		byte(c.H6))
}

// adc is a measurement's raw values: 20-bit temperature and pressure,
// 16-bit humidity.
type adc struct {
	T, P int32
	H    uint16
}

// bytes returns the burst read of 0xF7..0xFE (0xF7..0xFC on a BMP280).
func (a adc) bytes(humidity bool) []byte {
	b := []byte{
		byte(a.P >> 12), byte(a.P >> 4), byte(a.P<<4) & 0xF0,
		byte(a.T >> 12), byte(a.T >> 4), byte(a.T<<4) & 0xF0,
	}
	if humidity {
		b = append(b, byte(a.H>>8), byte(a.H))
	}
	return b
}

// osrs is the register code of oversampling ×n (datasheet Tables 20,
// 23, 24); 0 skips the measurement.
var osrs = map[int]byte{0: 0b000, 1: 0b001, 2: 0b010, 4: 0b011, 8: 0b100, 16: 0b101}

// ctrlMeas returns ctrl_meas for oversampling ×t and ×p in mode.
func ctrlMeas(t, p int, mode byte) byte { return osrs[t]<<5 | osrs[p]<<2 | mode }

// device is a simulated chip on the bus, for building transcripts.
type device struct {
	addr uint16
	chip byte
	cal  calibration
}

// settings are the register values a configuration writes.
type settings struct {
	ctrlMeas byte // in forced mode
	ctrlHum  byte // BME280 only
	config   byte // written after bmxx80's own config write, when not configDefault
}

// initOps returns the transactions that initialise d: the driver's chip
// id check, bmxx80's (NewI2C), the calibration reads, and the
// configuration write (ctrl_meas to sleep, ctrl_hum, config, ctrl_meas
// again, which makes ctrl_hum take effect), then the filter's config
// write.
func (d device) initOps(s settings) []i2ctest.IO {
	sleep := s.ctrlMeas&^0b11 | modeSleep
	ops := []i2ctest.IO{
		{Addr: d.addr, W: []byte{regChipID}, R: []byte{d.chip}},
		{Addr: d.addr, W: []byte{regChipID}, R: []byte{d.chip}},
		{Addr: d.addr, W: []byte{regCalibTP}, R: d.cal.bytesTP()},
	}
	if d.chip == chipBME280 {
		ops = append(ops,
			i2ctest.IO{Addr: d.addr, W: []byte{regCalibH}, R: d.cal.bytesH()},
			i2ctest.IO{Addr: d.addr, W: []byte{
				regCtrlMeas, sleep,
				regCtrlHum, s.ctrlHum,
				regConfig, configDefault,
				regCtrlMeas, sleep,
			}})
	} else {
		ops = append(ops, i2ctest.IO{Addr: d.addr, W: []byte{
			regCtrlMeas, sleep,
			regConfig, configDefault,
			regCtrlMeas, sleep,
		}})
	}
	if s.config != 0 && s.config != configDefault {
		ops = append(ops, i2ctest.IO{Addr: d.addr, W: []byte{regConfig, s.config}})
	}
	return ops
}

// measureOps returns the transactions of one forced measurement: the
// ctrl_meas write that starts it, status polls (busy times "measuring",
// then done), and the burst read of the data registers.
func (d device) measureOps(s settings, busy int, a adc) []i2ctest.IO {
	ops := []i2ctest.IO{{Addr: d.addr, W: []byte{regCtrlMeas, s.ctrlMeas}}}
	for range busy {
		ops = append(ops, i2ctest.IO{Addr: d.addr, W: []byte{regStatus}, R: []byte{statusMeasuring}})
	}
	return append(ops,
		i2ctest.IO{Addr: d.addr, W: []byte{regStatus}, R: []byte{0x00}},
		i2ctest.IO{Addr: d.addr, W: []byte{regData}, R: a.bytes(d.chip == chipBME280)})
}

// The datasheet's floating-point compensation (BME280 datasheet §8.1),
// written independently of bmxx80's fixed-point one.

// compensateT returns °C and t_fine.
func compensateT(c calibration, adcT int32) (celsius, tFine float64) {
	v1 := (float64(adcT)/16384 - float64(c.T1)/1024) * float64(c.T2)
	d := float64(adcT)/131072 - float64(c.T1)/8192
	v2 := d * d * float64(c.T3)
	tFine = v1 + v2
	return tFine / 5120, tFine
}

// compensateP returns Pa.
func compensateP(c calibration, adcP int32, tFine float64) float64 {
	v1 := tFine/2 - 64000
	v2 := v1 * v1 * float64(c.P6) / 32768
	v2 += v1 * float64(c.P5) * 2
	v2 = v2/4 + float64(c.P4)*65536
	v1 = (float64(c.P3)*v1*v1/524288 + float64(c.P2)*v1) / 524288
	v1 = (1 + v1/32768) * float64(c.P1)
	if v1 == 0 {
		return 0
	}
	p := 1048576 - float64(adcP)
	p = (p - v2/4096) * 6250 / v1
	v1 = float64(c.P9) * p * p / 2147483648
	v2 = p * float64(c.P8) / 32768
	return p + (v1+v2+float64(c.P7))/16
}

// compensateH returns %RH, clamped to 0..100.
func compensateH(c calibration, adcH uint16, tFine float64) float64 {
	h := tFine - 76800
	h = (float64(adcH) - (float64(c.H4)*64 + float64(c.H5)/16384*h)) *
		(float64(c.H2) / 65536 * (1 + float64(c.H6)/67108864*h*(1+float64(c.H3)/67108864*h)))
	h *= 1 - float64(c.H1)*h/524288
	return math.Max(0, math.Min(100, h))
}
