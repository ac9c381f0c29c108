// Package drivers is the registry of the sensor types: it reads the
// sensors of the configuration, each entry by its type's keys, and opens
// them, with the serial ports and I²C buses they share, one per device
// path, so that every transaction on one wire goes through one queue.
//
// There are only a few types. A [Sensor] is one entry of the
// configuration's sensors list: the keys every sensor has (name, type,
// interval, timeout) and those of its type, which the type's package
// declares on its Settings (sim, thermal, modbus, serialline, bme280;
// serialport's for the port and framing of a sensor on a serial line),
// with their limits, defaults and rules. A [Set] is the sensors opened,
// with their ports and buses.
//
// # Basics
//
// agent/config decodes each entry of the file's sensors list onto a
// Sensor, which takes the keys of its type and refuses any other
// ([Sensor.DecodeMapping]), then fills in its defaults
// ([Sensor.SetDefaults]) and validates it ([Sensor.Validate]); the rules
// between sensors (unique names, a port's framing) are agent/config's.
// [Open] opens the sensors it returns.
//
// Adding a key to a type is a field of its package's Settings (and, when
// it needs one, a default and a rule there): nothing here. Adding a type
// is its package under agent/sensors and an entry in the registry
// (types.go): its name, whether it is on a serial port, and how its
// Settings are defaulted, validated and opened.
//
// # Caveats
//
//   - A sensor whose source is absent at start (a board without thermal
//     zones) is left out with a log line; a serial port or I²C bus that
//     is absent is not: its sensors fail their reads, and recover once
//     the device is plugged in.
//   - Close the [Set] after the sampler has stopped: it closes the
//     sensors, then the ports and buses.
package drivers
