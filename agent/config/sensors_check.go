package config

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/iot-hub/agent/agent/sensors/modbus"
)

// validateSensor reports the first wrong key of sensors[i], defaults
// filled in.
func (c *Config) validateSensor(i int) error {
	s := &c.Sensors[i]
	at := fmt.Sprintf("sensors[%d]", i)
	bad := func(key, format string, args ...any) error {
		line, given := c.lines[at+"."+key]
		if !given {
			line = c.lines[at] // a required key left out: the sensor's line
		}
		return &Error{Line: line, Path: at + "." + key, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
	}
	want := strings.Join(sensorTypes[:len(sensorTypes)-1], ", ") + " or " + sensorTypes[len(sensorTypes)-1]
	switch {
	case s.Name == "":
		return bad("name", "required")
	case !sensorName.MatchString(s.Name):
		return bad("name", "%q: want up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", s.Name)
	case s.Type == "":
		return bad("type", "required: %s", want)
	case !oneOf(s.Type, sensorTypes...):
		return bad("type", "unknown type %q: want %s", s.Type, want)
	case s.Timeout > s.Interval:
		return bad("timeout", "%v is above the interval, %v", s.Timeout, s.Interval)
	}
	switch s.Type {
	case SensorSim:
		if s.ReadDelay >= s.Interval {
			return bad("readDelay", "%v is not below the interval, %v, which bounds every read", s.ReadDelay, s.Interval)
		}
	case SensorModbusRTU, SensorSerialLine:
		if err := checkSerial(s, bad); err != nil {
			return err
		}
	case SensorBME280:
		if err := checkBME280(s, bad); err != nil {
			return err
		}
	}
	switch s.Type {
	case SensorModbusRTU:
		return checkModbus(s, bad)
	case SensorSerialLine:
		return checkSerialLine(s, bad)
	}
	return nil
}

// badKey makes the error of a key of a sensor, its path relative to the
// sensor.
type badKey func(key, format string, args ...any) error

func checkSerial(s *Sensor, bad badKey) error {
	switch {
	case s.Port == "":
		return bad("port", "required: the serial device, such as /dev/ttyUSB0 or /dev/serial/by-id/...")
	case !strings.HasPrefix(s.Port, "/"):
		return bad("port", "%q is not an absolute path", s.Port)
	case !oneOf(s.Parity, "none", "even", "odd"):
		return bad("parity", "%q: want none, even or odd", s.Parity)
	}
	return nil
}

func checkModbus(s *Sensor, bad badKey) error {
	switch {
	case s.Slave == 0:
		return bad("slave", "required: the slave's address, 1..247")
	case s.ResponseTimeout > s.Timeout:
		return bad("responseTimeout", "%v is above the read's timeout, %v", s.ResponseTimeout, s.Timeout)
	case s.ResponseTimeout > modbus.MaxTimeout: // the driver's own limit, refused here rather than at start
		return bad("responseTimeout", "%v is above %v, the longest a Modbus request waits", s.ResponseTimeout, modbus.MaxTimeout)
	case len(s.Registers) == 0:
		return bad("registers", "required: at least one register per sensor")
	}
	metrics := map[string]int{}
	for j, r := range s.Registers {
		at := fmt.Sprintf("registers[%d].", j)
		switch {
		case r.Metric == "":
			return bad(at+"metric", "required")
		case !oneOf(r.Type, "int16", "uint16", "int32", "uint32", "float32"):
			return bad(at+"type", "%q: want int16, uint16, int32, uint32 or float32", r.Type)
		case (r.Type == "int32" || r.Type == "uint32" || r.Type == "float32") && r.Address == math.MaxUint16:
			return bad(at+"address", "%d: a %s takes two registers, and there is none after it", r.Address, r.Type)
		case !oneOf(r.WordOrder, "big", "little"):
			return bad(at+"wordOrder", "%q: want big or little", r.WordOrder)
		case math.IsNaN(r.Scale) || math.IsInf(r.Scale, 0):
			return bad(at+"scale", "%v is not a finite number", r.Scale)
		case math.IsNaN(r.Offset) || math.IsInf(r.Offset, 0):
			return bad(at+"offset", "%v is not a finite number", r.Offset)
		}
		if k, dup := metrics[r.Metric]; dup {
			return bad(at+"metric", "%q is also the metric of registers[%d]", r.Metric, k)
		}
		metrics[r.Metric] = j
	}
	return nil
}

func checkSerialLine(s *Sensor, bad badKey) error {
	switch {
	case !oneOf(s.Format, "json", "kv"):
		return bad("format", "%q: want json or kv", s.Format)
	}
	for metric := range s.Units {
		if metric == "" {
			return bad("units", "a unit for an empty metric name")
		}
	}
	return nil
}

func checkBME280(s *Sensor, bad badKey) error {
	o := s.Oversampling
	switch {
	case !i2cBus.MatchString(s.Bus):
		return bad("bus", "%q: want an I2C bus device such as /dev/i2c-1", s.Bus)
	case !oversampling(o.Temperature):
		return bad("oversampling.temperature", "%d: want 1, 2, 4, 8 or 16", o.Temperature)
	case !oversampling(o.Pressure):
		return bad("oversampling.pressure", "%d: want 1, 2, 4, 8 or 16", o.Pressure)
	case !oversampling(o.Humidity):
		return bad("oversampling.humidity", "%d: want 1, 2, 4, 8 or 16", o.Humidity)
	case s.Filter != 0 && s.Filter != 2 && s.Filter != 4 && s.Filter != 8 && s.Filter != 16:
		return bad("filter", "%d: want 0 (off), 2, 4, 8 or 16", s.Filter)
	}
	return nil
}

// i2cBus is what an I²C bus device's path may be.
var i2cBus = regexp.MustCompile(`^/dev/i2c-[0-9]+$`)

func oversampling(n int) bool { return n == 1 || n == 2 || n == 4 || n == 8 || n == 16 }

// validatePorts checks the sensors that share a serial port: they agree
// on its framing, and a serial-line device has its port alone.
func (c *Config) validatePorts() error {
	first := map[string]int{} // port → the first sensor on it
	for i, s := range c.Sensors {
		if s.Type != SensorModbusRTU && s.Type != SensorSerialLine {
			continue
		}
		j, shared := first[s.Port]
		if !shared {
			first[s.Port] = i
			continue
		}
		o := c.Sensors[j]
		path := fmt.Sprintf("sensors[%d].port", i)
		bad := func(format string, args ...any) error {
			return &Error{Line: c.lines[path], Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
		}
		switch {
		case s.Type == SensorSerialLine || o.Type == SensorSerialLine:
			return bad("%s is also the port of sensors[%d]; a serial-line device needs its port alone", s.Port, j)
		case s.Baud != o.Baud || s.DataBits != o.DataBits || s.Parity != o.Parity || s.StopBits != o.StopBits:
			return bad("%s is also the port of sensors[%d], with another framing (%s); sensors on one port share its framing",
				s.Port, j, framing(o))
		}
	}
	return nil
}

// framing writes a serial port's framing as "9600 8N1".
func framing(s Sensor) string {
	return fmt.Sprintf("%d %d%s%d", s.Baud, s.DataBits, strings.ToUpper(s.Parity[:1]), s.StopBits)
}
