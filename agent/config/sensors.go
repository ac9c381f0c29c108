package config

import (
	"time"
)

// Sensor is one entry of the sensors list. Name, Type, Interval and
// Timeout apply to every type; the other keys belong to the types named
// by their sensor tag, and are refused on a sensor of another type.
type Sensor struct {
	// Name names the sensor in telemetry and logs; required, unique,
	// letters, digits, '.', '_' and '-'.
	Name string `yaml:"name"`
	// Type is the driver: sim, thermal, modbus-rtu, serial-line or bme280.
	Type string `yaml:"type"`
	// Interval is how often it is read. Default 10s; 100ms to 24h.
	Interval time.Duration `yaml:"interval" limit:"100ms..24h"`
	// Timeout bounds one read. Default: the interval; 1ms to the
	// interval.
	Timeout time.Duration `yaml:"timeout" limit:"1ms..interval"`

	// Period (sim) is the period of the simulated sine waves. Default
	// 10m; at least 1s.
	Period time.Duration `yaml:"period,omitempty" sensor:"sim" limit:"1s.."`
	// ReadDelay (sim) makes each read wait this long, or until the read's
	// deadline (its timeout) ends: a slow sensor, for demos and tests.
	// From 0s to below the interval; 0s, the default, is no wait.
	ReadDelay time.Duration `yaml:"readDelay,omitempty" sensor:"sim" limit:"0s..interval"`

	// Path (thermal) is the directory of the thermal zones. Default
	// /sys/class/thermal.
	Path string `yaml:"path,omitempty" sensor:"thermal"`

	// Port (modbus-rtu, serial-line) is the serial device: /dev/ttyUSB0,
	// or better a stable /dev/serial/by-id/... link, which still names the
	// adapter when it comes back as another tty. Required. The sensors of
	// one port share it (the slaves of one RS-485 line) and must give it
	// the same framing.
	Port string `yaml:"port,omitempty" sensor:"modbus-rtu serial-line"`
	// Baud (modbus-rtu, serial-line) is the line's speed: any rate from
	// 50 to 4000000, a rate that is not a standard one being asked of the
	// adapter's driver with Linux's BOTHER. Default 9600.
	Baud int `yaml:"baud,omitempty" sensor:"modbus-rtu serial-line" limit:"50..4000000"`
	// DataBits (modbus-rtu, serial-line): 7 or 8. Default 8.
	DataBits int `yaml:"dataBits,omitempty" sensor:"modbus-rtu serial-line" limit:"7..8"`
	// Parity (modbus-rtu, serial-line): none, even or odd. Default none.
	Parity string `yaml:"parity,omitempty" sensor:"modbus-rtu serial-line"`
	// StopBits (modbus-rtu, serial-line): 1 or 2. Default 1.
	StopBits int `yaml:"stopBits,omitempty" sensor:"modbus-rtu serial-line" limit:"1..2"`

	// Slave (modbus-rtu) is the slave's address, 1 to 247. Required.
	Slave int `yaml:"slave,omitempty" sensor:"modbus-rtu" limit:"1..247"`
	// ResponseTimeout (modbus-rtu) is how long one request waits for its
	// answer. Default 1s, or the read's timeout when that is shorter;
	// 1ms to the read's timeout, and at most 1m (modbus.MaxTimeout).
	ResponseTimeout time.Duration `yaml:"responseTimeout,omitempty" sensor:"modbus-rtu" limit:"1ms..timeout"`
	// Retries (modbus-rtu) is how often a request that got no valid answer
	// is sent again. Default 2; 0 to 10; 0 sends every request once.
	Retries *int `yaml:"retries,omitempty" sensor:"modbus-rtu" limit:"0..10"`
	// Registers (modbus-rtu) maps the slave's registers to metrics, one
	// entry per metric. Required.
	Registers []ModbusRegister `yaml:"registers,omitempty" sensor:"modbus-rtu"`

	// Format (serial-line) is what the device prints, one record per
	// line: json (an object of numbers) or kv (key=value pairs). Default
	// json.
	Format string `yaml:"format,omitempty" sensor:"serial-line"`
	// Units (serial-line) gives the UCUM unit of each metric the device
	// prints: {temp: Cel, hum: "%"}. A metric without one has no unit.
	Units map[string]string `yaml:"units,omitempty" sensor:"serial-line"`
	// MaxLineBytes (serial-line) is the longest line taken; a longer one
	// is skipped. Default 1KiB; 16B to 64KiB.
	MaxLineBytes Size `yaml:"maxLineBytes,omitempty" sensor:"serial-line" limit:"16B..64KiB"`

	// Bus (bme280) is the I2C bus device. Default /dev/i2c-1, the
	// Raspberry Pi's header.
	Bus string `yaml:"bus,omitempty" sensor:"bme280"`
	// Address (bme280) is the chip's address: 0x76 (SDO low) or 0x77.
	// Default 0x76.
	Address int `yaml:"address,omitempty" sensor:"bme280" limit:"0x76..0x77"`
	// Oversampling (bme280) of each measurement: 1, 2, 4, 8 or 16. More
	// is less noisy, slower and draws more current.
	Oversampling *Oversampling `yaml:"oversampling,omitempty" sensor:"bme280"`
	// Filter (bme280) is the IIR filter's coefficient: 0, 2, 4, 8 or 16;
	// 0, the default, is no filter.
	Filter int `yaml:"filter,omitempty" sensor:"bme280" limit:"0..16"`
}

// ModbusRegister maps a slave's register, or pair of registers, to a
// metric: value = raw × scale + offset.
type ModbusRegister struct {
	// Metric names the value in telemetry; required, unique per sensor.
	Metric string `yaml:"metric"`
	// Unit is its UCUM unit: Cel, %, kW.h; none by default.
	Unit string `yaml:"unit,omitempty"`
	// Function is 3 (holding registers) or 4 (input registers). Default 3.
	Function int `yaml:"function,omitempty" limit:"3..4"`
	// Address is the first register's address on the wire, 0 to 65535
	// (register 40001 of the old notation is address 0). Default 0.
	Address int `yaml:"address" limit:"0..65535"`
	// Type is int16, uint16, int32, uint32 or float32; the 32-bit ones take
	// two registers. Default uint16.
	Type string `yaml:"type,omitempty"`
	// WordOrder of a 32-bit value: big (the high word first, the Modbus
	// convention) or little. Default big.
	WordOrder string `yaml:"wordOrder,omitempty"`
	// Scale multiplies the raw value. Default 1.
	Scale float64 `yaml:"scale,omitempty"`
	// Offset is added after scaling. Default 0.
	Offset float64 `yaml:"offset,omitempty"`
}

// Oversampling is the BME280's oversampling of each measurement: how
// many samples it averages, 1, 2, 4, 8 or 16. Default 1.
type Oversampling struct {
	// Temperature is the temperature's oversampling.
	Temperature int `yaml:"temperature,omitempty" limit:"1..16"`
	// Pressure is the pressure's oversampling.
	Pressure int `yaml:"pressure,omitempty" limit:"1..16"`
	// Humidity is the humidity's oversampling.
	Humidity int `yaml:"humidity,omitempty" limit:"1..16"`
}

// Sensor types.
const (
	// SensorSim is the simulated sensor: temperature, humidity and a
	// sequence number that persists across restarts.
	SensorSim = "sim"
	// SensorThermal reads the board's thermal zones from sysfs.
	SensorThermal = "thermal"
	// SensorModbusRTU reads a Modbus RTU slave's registers over a serial
	// line.
	SensorModbusRTU = "modbus-rtu"
	// SensorSerialLine reads a device that prints a record per line.
	SensorSerialLine = "serial-line"
	// SensorBME280 reads a Bosch BME280 over I2C: temperature, pressure
	// and humidity.
	SensorBME280 = "bme280"
)

// sensorTypes lists the sensor types, for messages.
var sensorTypes = []string{SensorSim, SensorThermal, SensorModbusRTU, SensorSerialLine, SensorBME280}

// Defaults of the sensors' keys.
const (
	DefaultSensorInterval  = 10 * time.Second
	DefaultSimPeriod       = 10 * time.Minute
	DefaultThermalPath     = "/sys/class/thermal"
	DefaultBaud            = 9600
	DefaultDataBits        = 8
	DefaultParity          = "none"
	DefaultStopBits        = 1
	DefaultResponseTimeout = time.Second
	DefaultRetries         = 2
	DefaultModbusFunction  = 3
	DefaultModbusType      = "uint16"
	DefaultWordOrder       = "big"
	DefaultLineFormat      = "json"
	DefaultMaxLineBytes    = 1 << 10
	DefaultI2CBus          = "/dev/i2c-1"
	DefaultBME280Address   = 0x76
	DefaultOversampling    = 1
)

// applyDefaults fills in s's keys that were left out.
func (s *Sensor) applyDefaults() {
	setDefault(&s.Interval, DefaultSensorInterval)
	setDefault(&s.Timeout, s.Interval)
	switch s.Type {
	case SensorSim:
		setDefault(&s.Period, DefaultSimPeriod)
	case SensorThermal:
		setDefault(&s.Path, DefaultThermalPath)
	case SensorModbusRTU, SensorSerialLine:
		setDefault(&s.Baud, DefaultBaud)
		setDefault(&s.DataBits, DefaultDataBits)
		setDefault(&s.Parity, DefaultParity)
		setDefault(&s.StopBits, DefaultStopBits)
	case SensorBME280:
		setDefault(&s.Bus, DefaultI2CBus)
		setDefault(&s.Address, DefaultBME280Address)
		if s.Oversampling == nil {
			s.Oversampling = &Oversampling{}
		}
		setDefault(&s.Oversampling.Temperature, DefaultOversampling)
		setDefault(&s.Oversampling.Pressure, DefaultOversampling)
		setDefault(&s.Oversampling.Humidity, DefaultOversampling)
	}
	switch s.Type {
	case SensorModbusRTU:
		setDefault(&s.ResponseTimeout, min(DefaultResponseTimeout, s.Timeout))
		if s.Retries == nil {
			s.Retries = new(DefaultRetries)
		}
		for i := range s.Registers {
			r := &s.Registers[i]
			setDefault(&r.Function, DefaultModbusFunction)
			setDefault(&r.Type, DefaultModbusType)
			setDefault(&r.WordOrder, DefaultWordOrder)
			setDefault(&r.Scale, 1)
		}
	case SensorSerialLine:
		setDefault(&s.Format, DefaultLineFormat)
		setDefault(&s.MaxLineBytes, DefaultMaxLineBytes)
	}
}
