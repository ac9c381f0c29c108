// Package lograte limits the log lines that input from outside the agent
// can repeat without bound: garbage on the commands topic, a broker that
// refuses every publish, a serial device that hangs up as soon as it is
// opened. On a gateway the journal lives on an SD card, which such a
// flood wears; the events themselves (dead letters, quarantined records)
// are not limited, only their lines.
//
// A line has a key naming its kind: a dead letter's reason, an error
// code, a sensor's name. Per key, the first [Config.Burst] lines of a
// window of [Config.Interval] are written and the others are counted; the
// first line written after some were suppressed says how many, with the
// attribute "suppressed" ([SuppressedKey]). A count is reported with the
// next line of its key: until one comes, it waits.
//
// There are three ways in, one mechanism:
//
//   - [Logger] is a *slog.Logger whose lines each name their key: the way
//     for the agent's own lines;
//   - [Handler] limits the records of a slog.Handler by a key drawn from
//     each record: for the lines of libraries (the embedded broker,
//     net/http's server errors);
//   - [Limiter] is the counting itself, for a caller that writes its own
//     line: the sensors, whose line says "failures" rather than
//     "suppressed", and starts a run again on recovery ([Limiter.Reset]).
//
// # Caveats
//
//   - Keys must come from a small set fixed by the code (reasons, codes,
//     names from the configuration), never from the input's text: the
//     Limiter keeps one entry per key for as long as it lives.
//   - Time comes from [Config.Clock]: tests inject a fake one. A clock
//     that goes back (a Pi's clock set by NTP after booting at 1970)
//     opens a new window rather than silencing a key until it catches
//     up.
package lograte
