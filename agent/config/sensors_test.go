package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/sensors/bme280"
	"github.com/iot-hub/agent/agent/sensors/drivers"
	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/serialline"
	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/confkeys"
)

const sensorsBase = "deviceId: gw\nuplink: {mqtt: {broker: \"mqtt://b:1883\"}}\nsensors:\n"

func TestParseHardwareSensors(t *testing.T) {
	c, err := config.Parse([]byte(sensorsBase+`
  - name: boiler
    type: modbus-rtu
    interval: 5s
    timeout: 3s
    port: /dev/serial/by-id/usb-FTDI_FT232R-if00-port0
    baud: 19200
    parity: even
    slave: 3
    responseTimeout: 500ms
    retries: 0
    registers:
      - {metric: temperature, function: 4, address: 0, type: int16, scale: 0.1, unit: Cel}
      - {metric: energy, address: 10, type: uint32, wordOrder: little, unit: kW.h}
  - name: meter
    type: modbus-rtu
    port: /dev/serial/by-id/usb-FTDI_FT232R-if00-port0
    baud: 19200
    parity: even
    slave: 4
    registers: [{metric: power, address: 0x10, type: float32, unit: W, offset: -1.5}]
  - name: mcu
    type: serial-line
    port: /dev/ttyACM0
    baud: 115200
    format: kv
    units: {temp: Cel, hum: "%"}
    maxLineBytes: 4KiB
  - name: weather
    type: bme280
    address: 0x77
    oversampling: {pressure: 16, temperature: 2}
    filter: 4
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []drivers.Sensor{
		{Name: "boiler", Type: "modbus-rtu", Interval: 5 * time.Second, Timeout: 3 * time.Second,
			Serial: &serialport.Settings{Port: "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0", Baud: 19200, DataBits: 8, Parity: "even", StopBits: 1},
			Settings: &modbus.Settings{Slave: 3, ResponseTimeout: 500 * time.Millisecond, Retries: new(0), Registers: []modbus.Register{
				{Metric: "temperature", Unit: "Cel", Function: 4, Address: 0, Type: "int16", WordOrder: "big", Scale: 0.1},
				{Metric: "energy", Unit: "kW.h", Function: 3, Address: 10, Type: "uint32", WordOrder: "little", Scale: 1},
			}}},
		{Name: "meter", Type: "modbus-rtu", Interval: 10 * time.Second, Timeout: 10 * time.Second,
			Serial: &serialport.Settings{Port: "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0", Baud: 19200, DataBits: 8, Parity: "even", StopBits: 1},
			Settings: &modbus.Settings{Slave: 4, ResponseTimeout: time.Second, Retries: new(2), Registers: []modbus.Register{
				{Metric: "power", Unit: "W", Function: 3, Address: 16, Type: "float32", WordOrder: "big", Scale: 1, Offset: -1.5},
			}}},
		{Name: "mcu", Type: "serial-line", Interval: 10 * time.Second, Timeout: 10 * time.Second,
			Serial:   &serialport.Settings{Port: "/dev/ttyACM0", Baud: 115200, DataBits: 8, Parity: "none", StopBits: 1},
			Settings: &serialline.Settings{Format: "kv", Units: map[string]string{"temp": "Cel", "hum": "%"}, MaxLineBytes: 4 * confkeys.KiB}},
		{Name: "weather", Type: "bme280", Interval: 10 * time.Second, Timeout: 10 * time.Second,
			Settings: &bme280.Settings{Bus: "/dev/i2c-1", Address: 0x77, Oversampling: bme280.Oversampling{Temperature: 2, Pressure: 16, Humidity: 1}, Filter: 4}},
	}
	for i := range want {
		if !reflect.DeepEqual(c.Sensors[i], want[i]) {
			t.Errorf("sensors[%d] = %+v\nwant %+v", i, c.Sensors[i], want[i])
		}
	}
	// check-config prints what the agent runs with, and reads back.
	out, err := c.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Parse(out, nil)
	if err != nil {
		t.Fatalf("the marshalled config does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back.Sensors, c.Sensors) {
		t.Errorf("the marshalled config reads back as %+v\n%s", back.Sensors, out)
	}
}

// A Modbus sensor read more often than once a second, whose
// responseTimeout is left out, waits for each answer at most its read's
// timeout: the default, 1s, is not refused as above the timeout, naming
// a key the file does not hold.
func TestModbusResponseTimeoutDefaultWithinTimeout(t *testing.T) {
	for _, tt := range []struct {
		interval, timeout string
		want              time.Duration
	}{
		{"500ms", "", 500 * time.Millisecond},
		{"500ms", "200ms", 200 * time.Millisecond},
		{"5s", "", modbus.DefaultTimeout},
	} {
		y := "  - {name: m, type: modbus-rtu, port: /dev/ttyUSB0, slave: 1, interval: " + tt.interval
		if tt.timeout != "" {
			y += ", timeout: " + tt.timeout
		}
		y += ", registers: [{metric: t, address: 0}]}\n"
		c, err := config.Parse([]byte(sensorsBase+y), nil)
		if err != nil {
			t.Errorf("Parse(interval %s, timeout %q) = %v; want nil", tt.interval, tt.timeout, err)
			continue
		}
		if got := c.Sensors[0].Settings.(*modbus.Settings).ResponseTimeout; got != tt.want {
			t.Errorf("Parse(interval %s, timeout %q): responseTimeout %v; want %v", tt.interval, tt.timeout, got, tt.want)
		}
	}
}

func TestParseSensorErrors(t *testing.T) {
	modbus := "  - name: m\n    type: modbus-rtu\n    port: /dev/ttyUSB0\n    slave: 1\n"
	reg := "    registers: [{metric: t, address: 0}]\n"
	tests := []struct {
		name, yaml string
		err        error
		want       string // the message after "config: line N: "
	}{
		{"timeout over interval", "  - {name: s, type: sim, interval: 1s, timeout: 2s}\n", config.ErrInvalid,
			"sensors[0].timeout: 2s is above the interval, 1s"},
		{"port of another type", "  - {name: s, type: bme280, port: /dev/ttyS0}\n", config.ErrUnknownKey,
			"sensors[0].port: unknown key for a bme280 sensor (port is a key of modbus-rtu and serial-line sensors)"},
		{"no port", "  - {name: m, type: modbus-rtu, slave: 1}\n", config.ErrInvalid,
			"sensors[0].port: required: the serial device, such as /dev/ttyUSB0 or /dev/serial/by-id/..."},
		{"relative port", "  - {name: m, type: serial-line, port: ttyUSB0}\n", config.ErrInvalid,
			`sensors[0].port: "ttyUSB0" is not an absolute path`},
		{"parity", modbus + "    parity: mark\n" + reg, config.ErrInvalid, `sensors[0].parity: "mark": want none, even or odd`},
		{"stop bits", modbus + "    stopBits: 3\n" + reg, config.ErrInvalid, "sensors[0].stopBits: 3 is outside 1..2"},
		{"slave", "  - {name: m, type: modbus-rtu, port: /dev/ttyUSB0, slave: 248}\n", config.ErrInvalid,
			"sensors[0].slave: 248 is outside 1..247"},
		{"no slave", "  - {name: m, type: modbus-rtu, port: /dev/ttyUSB0}\n", config.ErrInvalid,
			"sensors[0].slave: required: the slave's address, 1..247"},
		{"no registers", modbus, config.ErrInvalid, "sensors[0].registers: required: at least one register per sensor"},
		{"retries", modbus + "    retries: 11\n" + reg, config.ErrInvalid, "sensors[0].retries: 11 is outside 0..10"},
		{"response timeout", modbus + "    interval: 1s\n    responseTimeout: 2s\n" + reg, config.ErrInvalid,
			"sensors[0].responseTimeout: 2s is above the read's timeout, 1s"},
		{"response timeout above modbus's", modbus + "    interval: 10m\n    timeout: 5m\n    responseTimeout: 2m\n" + reg, config.ErrInvalid,
			"sensors[0].responseTimeout: 2m0s is above 1m0s, the longest a Modbus request waits"},
		{"register type", modbus + "    registers: [{metric: t, address: 0}, {metric: u, address: 1, type: int64}]\n", config.ErrInvalid,
			`sensors[0].registers[1].type: "int64": want int16, uint16, int32, uint32 or float32`},
		{"register function", modbus + "    registers: [{metric: t, address: 0, function: 1}]\n", config.ErrInvalid,
			"sensors[0].registers[0].function: 1 is outside 3..4"},
		{"register address fraction", modbus + "    registers: [{metric: t, address: 1.5}]\n", config.ErrInvalid,
			"sensors[0].registers[0].address: want a whole number, not 1.5"},
		{"register address", modbus + "    registers: [{metric: t, address: 65535, type: float32}]\n", config.ErrInvalid,
			"sensors[0].registers[0].address: 65535: a float32 takes two registers, and there is none after it"},
		{"register metric twice", modbus + "    registers: [{metric: t, address: 0}, {metric: t, address: 1}]\n", config.ErrInvalid,
			`sensors[0].registers[1].metric: "t" is also the metric of registers[0]`},
		{"register unknown key", modbus + "    registers: [{metric: t, adress: 0}]\n", config.ErrUnknownKey,
			"sensors[0].registers[0].adress: unknown key (did you mean address?)"},
		{"line format", "  - {name: l, type: serial-line, port: /dev/ttyACM0, format: csv}\n", config.ErrInvalid,
			`sensors[0].format: "csv": want json or kv`},
		{"units not a mapping", "  - {name: l, type: serial-line, port: /dev/ttyACM0, units: [Cel]}\n", config.ErrInvalid,
			"sensors[0].units: want a mapping of keys to values, not a list"},
		{"bme280 address", "  - {name: b, type: bme280, address: 0x40}\n", config.ErrInvalid,
			"sensors[0].address: 0x40 is outside 0x76..0x77"},
		{"bme280 oversampling", "  - {name: b, type: bme280, oversampling: {humidity: 3}}\n", config.ErrInvalid,
			"sensors[0].oversampling.humidity: 3: want 1, 2, 4, 8 or 16"},
		{"bme280 bus", "  - {name: b, type: bme280, bus: /dev/ttyS0}\n", config.ErrInvalid,
			`sensors[0].bus: "/dev/ttyS0": want an I2C bus device such as /dev/i2c-1`},
		{"port shared with a line device", modbus + reg + "  - {name: l, type: serial-line, port: /dev/ttyUSB0}\n", config.ErrInvalid,
			"sensors[1].port: /dev/ttyUSB0 is also the port of sensors[0]; a serial-line device needs its port alone"},
		{"port framing", modbus + reg + "  - {name: n, type: modbus-rtu, port: /dev/ttyUSB0, slave: 2, baud: 19200, registers: [{metric: t, address: 0}]}\n",
			config.ErrInvalid, "sensors[1].port: /dev/ttyUSB0 is also the port of sensors[0], with another framing (9600 8N1); sensors on one port share its framing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse([]byte(sensorsBase+tt.yaml), nil)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse = %v; want %v", err, tt.err)
			}
			e, ok := errors.AsType[*config.Error](err)
			if !ok || e.Line < 4 {
				t.Errorf("Parse = %#v; want a *config.Error with the line", err)
			}
			if _, msg, _ := strings.Cut(err.Error(), ": line "); !strings.HasSuffix(msg, ": "+tt.want) {
				t.Errorf("Parse = %q;\nwant    %q", err, tt.want)
			}
		})
	}
}
