// Package sim is a simulated sensor, for demos and tests: it needs no
// hardware and its values are a pure function of time, so that two
// gateways simulated at once read alike.
//
// A [Sensor] reads three metrics: temperature (Cel), a sine wave of
// ±3 °C around 21.5 °C; humidity (%), a sine wave of ±10 % around 45 %, a
// quarter period behind; and seq, a count that goes up by one per read
// and carries on across restarts, so that a consumer can see gaps and
// duplicates. Its [Config] holds the [Settings], the keys of a sim
// sensor in the agent's configuration file.
//
// # Caveats
//
//   - seq is kept in the state directory, in sim-<name>.seq, written
//     (temporary file, fsync, rename, fsync of the directory) before the
//     read returns it: a crash may skip a number, never repeat one. A file
//     that cannot be read as a number is logged and seq starts again
//     from 1.
//   - Writing that file on every read costs two fsyncs: fine for a demo,
//     not for a fast interval on an SD card.
//   - Settings.ReadDelay makes every read wait before it reads (a slow
//     sensor), giving up when the read's context ends; a read given up
//     takes no seq.
package sim
