// Package serialline is the serial-line driver: a microcontroller that
// prints one record per line on a serial port of its own, as JSON or as
// key=value pairs.
//
//	{"temperature":21.5,"humidity":40,"fan":true,"fw":"1.2"}
//	temperature=21.5 humidity=40; pressure=1013.2
//
// A [Sensor] reads its [serialport.Port] continuously from a goroutine of
// its own, started by [New] and stopped by [Sensor.Close], one
// transaction of at most a second at a time, so that a lost port is
// reopened between two. Each line that decodes is a record; [Sensor.Read]
// returns the newest record received since the previous Read, or waits
// for the next one. Each numeric member or pair is a reading named after
// its key, with the unit [Settings.Units] gives it. [Settings] are the
// keys of a serial-line sensor in the agent's configuration file.
//
// # Lines
//
//   - A line ends at LF, CRLF or CR; empty lines are ignored.
//   - JSON: a flat object. Numbers are readings, booleans read as 1 and 0;
//     strings, null, arrays and nested objects are ignored.
//   - kv: key=value pairs separated by spaces, tabs, commas or
//     semicolons. Pairs whose value is not a number, and tokens without
//     "=" (a "t = 21" with spaces included), are ignored.
//   - A key repeated in a line keeps the last value. Numbers out of
//     float64 range, NaN and infinities are ignored.
//
// Lines that give no reading are skipped and counted by [Reason]
// ([Sensor.Skipped]), never a reading: partial lines (the first after
// each open of the port, which may have begun before it, and the part
// received before the port was lost), lines longer than MaxLineBytes,
// garbage (not UTF-8, control characters: noise, a wrong baud rate),
// malformed JSON, and lines without a numeric value.
//
// # Caveats
//
//   - The newest record wins: the records a device prints between two
//     Reads but the last are dropped (not counted). A record is returned
//     once; its readings carry the time Read returned, not when the line
//     came, which is up to the read interval earlier.
//   - Read fails with ErrNoRecord only when its ctx ends; the error names
//     the port, what was skipped since the last record and the port's own
//     error (unplugged, unavailable until ...) when there is one.
//   - The first line after every (re)open is dropped, even when whole.
//   - The sensor reads the port alone and never closes it; Close the
//     sensor before the port.
package serialline
