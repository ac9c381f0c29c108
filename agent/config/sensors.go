package config

import (
	"fmt"

	"github.com/iot-hub/agent/internal/confkeys"
)

// validateSensors reports the first wrong key of the sensors: of one
// sensor, by its Validate (drivers.Sensor), then the rules between them:
// their names are unique, and the sensors that share a serial port agree
// on its framing, unless one needs it alone.
func (c *Config) validateSensors() error {
	names := map[string]int{}
	for i := range c.Sensors {
		s := &c.Sensors[i]
		at := fmt.Sprintf("sensors[%d]", i)
		if err := s.Validate(); err != nil {
			return c.fieldError(at, err)
		}
		if j, dup := names[s.Name]; dup {
			return c.fieldError(at, confkeys.Invalid("name", "%q is also the name of sensors[%d]", s.Name, j))
		}
		names[s.Name] = i
	}
	return c.validatePorts()
}

// validatePorts checks the sensors that share a serial port: they agree
// on its framing, and a sensor that needs its port alone (a serial-line
// device) has it alone.
func (c *Config) validatePorts() error {
	first := map[string]int{} // port → the first sensor on it
	for i := range c.Sensors {
		port, alone := c.Sensors[i].Port()
		if port == nil {
			continue
		}
		j, shared := first[port.Port]
		if !shared {
			first[port.Port] = i
			continue
		}
		other, otherAlone := c.Sensors[j].Port()
		at := fmt.Sprintf("sensors[%d]", i)
		switch {
		case alone || otherAlone:
			device := c.Sensors[i].Type
			if otherAlone {
				device = c.Sensors[j].Type
			}
			return c.fieldError(at, confkeys.Invalid("port", "%s is also the port of sensors[%d]; a %s device needs its port alone", port.Port, j, device))
		case port.Framing() != other.Framing():
			return c.fieldError(at, confkeys.Invalid("port", "%s is also the port of sensors[%d], with another framing (%s); sensors on one port share its framing",
				port.Port, j, other.Framing()))
		}
	}
	return nil
}
