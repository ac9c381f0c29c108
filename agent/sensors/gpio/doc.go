// Package gpio reads GPIO input lines through the kernel's GPIO
// character device (/dev/gpiochipN, periph.io's gpioioctl): a line's
// state (gpio-input), or the pulses on it (gpio-counter), such as an
// energy or water meter's S0 output.
//
// A counter watches its line on a goroutine of its own, started by New
// and stopped by Close. Debounce is by settling: after an edge it waits
// until the line has had no edge for the debounce time, then reads it;
// only a level that differs from the last stable one is a change, and
// only the changes the edge setting names are pulses. Contact bounce,
// and glitches shorter than the debounce time, are not counted; a line
// that never holds still for the debounce time counts nothing.
//
// The count is a meter's: it goes on across restarts. A Read writes the
// count to the state directory (atomically, synced) before returning it,
// when it has changed since the last write, and Close writes it again, so a restart starts from at least the
// last count reported and never counts a pulse twice; pulses after the
// last Read before a crash (not a clean stop) are lost.
//
// # Caveats
//
//   - A chip that is not there (no /dev/gpiochipN, a board without it)
//     makes New fail with sensors.ErrAbsent.
//   - periph.io's line gives edges without the kernel's timestamps; the
//     debounce is timed in user space, so a pulse shorter than the
//     agent's scheduling latency (a millisecond or so under load) may be
//     missed. S0 pulses last at least 30 ms.
//   - The agent's user needs the gpio group (/dev/gpiochip*), which the
//     package gives it, and the systemd unit allows char-gpiochip.
package gpio
