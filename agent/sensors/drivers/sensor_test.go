package drivers_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/iot-hub/agent/agent/sensors/drivers"
	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/agent/sensors/sim"
	"github.com/iot-hub/agent/internal/confkeys"
)

// TestDecodeKeysOfItsType: a sensor takes the keys of its type, refuses
// those of another naming the types they belong to, and suggests a key
// close to one it does not know, among those of every type.
func TestDecodeKeysOfItsType(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		err  error
		want string
	}{
		{"{name: s, type: sim, port: /x}", confkeys.ErrUnknownKey,
			"sensors[0].port: unknown key for a sim sensor (port is a key of modbus-rtu and serial-line sensors)"},
		{"{name: s, type: nope, path: /x}", confkeys.ErrUnknownKey,
			"sensors[0].path: unknown key for a nope sensor (path is a key of thermal and ds18b20 sensors)"},
		{"{name: s, type: modbus-rtu, adress: 1}", confkeys.ErrUnknownKey, "sensors[0].adress: unknown key (did you mean address?)"},
		{"{name: s, type: sim, intervall: 1s}", confkeys.ErrUnknownKey, "sensors[0].intervall: unknown key (did you mean interval?)"},
		// Without a type, the keys of every type are read and checked.
		{"{name: s, baud: 10}", confkeys.ErrInvalid, "sensors[0].baud: 10 is outside 50..4000000"},
		{"{name: s, type: modbus-rtu, retries: 11}", confkeys.ErrInvalid, "sensors[0].retries: 11 is outside 0..10"},
	} {
		doc, err := confkeys.Parse([]byte("sensors:\n  - " + tt.yaml + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Sensors []drivers.Sensor `yaml:"sensors"`
		}
		err = doc.Decode(&file)
		if !errors.Is(err, tt.err) || err.Error() != tt.want {
			t.Errorf("Decode(%s) = %v; want %v: %s", tt.yaml, err, tt.err, tt.want)
		}
	}
}

// TestSensorInGo: a Sensor made in Go, without its type's keys, gets
// them with their defaults, and is validated as one read from a file.
func TestSensorInGo(t *testing.T) {
	s := drivers.Sensor{Name: "boiler", Type: "modbus-rtu"}
	s.SetDefaults()
	k, ok := s.Settings.(*modbus.Settings)
	if !ok || s.Serial == nil || s.Serial.Baud != serialport.DefaultBaud || *k.Retries != modbus.DefaultRetries || k.ResponseTimeout != modbus.DefaultTimeout {
		t.Fatalf("SetDefaults: %+v, %+v; want the keys of a modbus-rtu sensor, with their defaults", s, s.Settings)
	}
	if err := s.Validate(); err == nil || err.Error() != "port: required: the serial device, such as /dev/ttyUSB0 or /dev/serial/by-id/..." {
		t.Errorf("Validate = %v; want the port required", err)
	}
	s.Serial.Port = "/dev/ttyUSB0"
	if port, alone := s.Port(); port != s.Serial || alone {
		t.Errorf("Port() = %v, %v; want its serial keys, shared", port, alone)
	}
	line := drivers.Sensor{Name: "mcu", Type: "serial-line", Serial: &serialport.Settings{Port: "/dev/ttyACM0"}}
	line.SetDefaults()
	if port, alone := line.Port(); port == nil || !alone {
		t.Errorf("Port() of a serial-line sensor = %v, %v; want its port, alone", port, alone)
	}
	if port, _ := (&drivers.Sensor{Type: "sim"}).Port(); port != nil {
		t.Errorf("Port() of a sim sensor = %v; want nil", port)
	}
	wrong := drivers.Sensor{Name: "s", Type: "thermal", Interval: 1, Timeout: 1, Settings: &sim.Settings{}}
	if err := wrong.Validate(); err == nil {
		t.Error("Validate of a thermal sensor with a sim sensor's keys = nil; want an error")
	}
	if got, want := drivers.Types(), []string{"sim", "thermal", "modbus-rtu", "modbus-tcp", "serial-line", "bme280", "ds18b20", "ads1115", "sht3x", "sht4x", "gpio-input", "gpio-counter", "exec"}; !slices.Equal(got, want) {
		t.Errorf("Types() = %v; want %v", got, want)
	}
	if serial, settings := drivers.NewKeys("nope"); serial != nil || settings != nil {
		t.Errorf("NewKeys(nope) = %v, %v; want nil, nil", serial, settings)
	}
}
