package drivers

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Sensor is one entry of the configuration's sensors list: the keys every
// sensor has, and those of its type. Its yaml tags are the keys as the
// configuration file holds them and check-config prints them: the type's
// keys inline, after the common ones.
type Sensor struct {
	// Name names the sensor in telemetry and logs; required, unique,
	// letters, digits, '.', '_' and '-'. It names files in the state
	// directory.
	Name string `yaml:"name"`
	// Type is the driver: one of Types, "sim", "thermal", "modbus-rtu",
	// "serial-line", "bme280", "ds18b20", "ads1115", "sht3x", "sht4x" or
	// "exec".
	Type string `yaml:"type"`
	// Interval is how often it is read. Default 10s; 100ms to 24h.
	Interval time.Duration `yaml:"interval" limit:"100ms..24h"`
	// Timeout bounds one read. Default: the interval; 1ms to the
	// interval.
	Timeout time.Duration `yaml:"timeout" limit:"1ms..interval"`
	// Serial are the keys of the serial port of a sensor on one
	// (modbus-rtu, serial-line); nil for the other types.
	Serial *serialport.Settings `yaml:",inline"`
	// Settings are the keys of its type: a *sim.Settings,
	// *thermal.Settings, *modbus.Settings, *serialline.Settings or
	// *bme280.Settings (NewKeys); nil when Type is not a type.
	Settings any `yaml:",inline"`
}

// DefaultInterval is the default Sensor.Interval.
const DefaultInterval = 10 * time.Second

// DecodeMapping decodes the keys of a sensor, as agent/config reads the
// file: those of every sensor, and those of its type, which the value of
// its type key chooses. The key of another type is refused, naming the
// types it belongs to. When the type is left out, the keys of any type
// are read, so that their values are checked; Validate then says that
// the type is required.
func (s *Sensor) DecodeMapping(m *confkeys.Mapping) error {
	typ, _ := m.Scalar("type")
	targets := []any{s}
	if d, ok := driverOf(typ); ok {
		s.Serial, s.Settings = d.newKeys()
		targets = append(targets, s.Serial, s.Settings)
	} else if typ == "" {
		for _, d := range registry {
			serial, settings := d.newKeys()
			targets = append(targets, serial, settings)
		}
	}
	return m.Decode(func(key string) string { return refusal(typ, key) }, targets...)
}

// refusal says why key is not a key of a sensor of type typ.
func refusal(typ, key string) string {
	var owners []string
	for _, d := range registry {
		if slices.Contains(d.keys(), key) {
			owners = append(owners, d.name)
		}
	}
	if len(owners) > 0 {
		return fmt.Sprintf("unknown key for a %s sensor (%s is a key of %s sensors)", typ, key, strings.Join(owners, " and "))
	}
	known := confkeys.Keys(Sensor{})
	for _, d := range registry {
		for _, k := range d.keys() {
			if !slices.Contains(known, k) {
				known = append(known, k)
			}
		}
	}
	return "unknown key" + confkeys.Suggest(key, known)
}

// SetDefaults fills in the keys left out of s, given or not: the type's
// keys of a known type are made when s has none.
func (s *Sensor) SetDefaults() {
	confkeys.SetDefault(&s.Interval, DefaultInterval)
	confkeys.SetDefault(&s.Timeout, s.Interval)
	d, ok := driverOf(s.Type)
	if !ok {
		return
	}
	if s.Settings == nil {
		s.Serial, s.Settings = d.newKeys()
	}
	if s.Serial != nil {
		s.Serial.SetDefaults()
	}
	d.setDefaults(s)
}

// sensorName is what a sensor's name may hold: it names files in the
// state directory.
var sensorName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate reports the first key of s, defaults filled in, that is wrong,
// as a *confkeys.FieldError whose path is the key's ("name",
// "registers[2].type"). The limits of a number key on its own are
// checked as the file is read; Validate checks those between keys (a
// timeout and the interval) and the sets with holes.
func (s *Sensor) Validate() error {
	switch {
	case s.Name == "":
		return confkeys.Invalid("name", "required")
	case !sensorName.MatchString(s.Name):
		return confkeys.Invalid("name", "%q: want up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", s.Name)
	case s.Type == "":
		return confkeys.Invalid("type", "required: %s", typeList())
	}
	d, ok := driverOf(s.Type)
	switch {
	case !ok:
		return confkeys.Invalid("type", "unknown type %q: want %s", s.Type, typeList())
	case s.Timeout > s.Interval:
		return confkeys.Invalid("timeout", "%v is above the interval, %v", s.Timeout, s.Interval)
	}
	if s.Serial != nil {
		if err := s.Serial.Validate(); err != nil {
			return err
		}
	}
	return d.validate(s)
}

// Port returns the keys of s's serial port, and whether s needs the port
// alone (a line device, which reads whatever the port receives) rather
// than sharing it with the other sensors of the line (the slaves of an
// RS-485 line); nil when s is not on a serial port.
func (s *Sensor) Port() (keys *serialport.Settings, alone bool) {
	d, ok := driverOf(s.Type)
	if !ok || s.Serial == nil {
		return nil, false
	}
	return s.Serial, d.port == portAlone
}

// typeList is Types as a message gives them: "sim, thermal, ..., sht4x
// or exec".
func typeList() string {
	t := Types()
	return strings.Join(t[:len(t)-1], ", ") + " or " + t[len(t)-1]
}
