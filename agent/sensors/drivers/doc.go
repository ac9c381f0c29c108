// Package drivers opens the sensors the configuration lists: each entry
// by the driver registered for its type, and the serial ports and I²C
// buses they share, one per device path, so that every transaction on
// one wire goes through one queue.
//
// Adding a driver is a line in the table of [Open] (drivers.go), its
// keys in agent/config, and its package under agent/sensors.
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
