// Package thermal reads the board's thermal zones from Linux's sysfs:
// /sys/class/thermal/thermal_zone*/temp, in millidegrees Celsius.
//
// A [Sensor] reads every zone found under [Settings.Path] when it was
// made, one reading per zone: metric the zone's directory name
// ("thermal_zone0"), unit Cel. Settings are the keys of a thermal sensor
// in the agent's configuration file.
//
// # Caveats
//
//   - The zones are listed once, by New; a board without any makes New
//     fail with sensors.ErrAbsent (containers and most VMs have none).
//   - A zone that fails to read (some report EIO or ENODATA while their
//     device sleeps) is left out of that read; Read fails only when every
//     zone does.
package thermal
