// Package command is the exec driver: a program the agent runs at each
// read, whose output is one record of readings, as JSON or key=value
// pairs (the formats of package serialline):
//
//	{"level": 0.82, "pump": true}
//	level=0.82 pump=1
//
// The program is run directly, with no shell: [Settings.Command] is its
// path and arguments. It runs as the agent's user, in the agent's
// sandbox (the systemd unit's), with stdin empty, a working directory of
// /, and an environment of its own: PATH, LANG=C.UTF-8 and
// IOT_HUB_SENSOR (the sensor's name); nothing of the agent's, whose
// environment may hold the MQTT password.
//
// A read fails, naming why, when the program:
//
//   - cannot be started (not found, not executable);
//   - runs past the read's timeout: its process group is killed, so that
//     what it started goes too;
//   - writes more than [Settings.MaxOutputBytes] to stdout: killed at once;
//   - exits with a status other than 0: the error quotes the start of
//     what it wrote to stderr;
//   - prints no reading: not UTF-8, not one JSON object, no number.
//
// Line ends in the output read as spaces: a JSON object may span lines,
// and key=value pairs may stand one per line.
package command
