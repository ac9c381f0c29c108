// Package i2cbus shares one I²C bus between the drivers of the devices
// on it, one transaction at a time.
//
// There are only a few types. A [Bus] is one adapter, such as
// /dev/i2c-1: drivers take turns on it with [Bus.Do], and only the
// function given to Do may talk to the bus while the turn lasts. [Buses]
// is the registry the daemon shares, so that every sensor configured on
// /dev/i2c-1 gets the same Bus.
//
// # Basics
//
// A Bus is opened lazily, on the first turn that needs it, through an
// opener: by default periph.io's host/v3/sysfs driver, without
// host.Init (which would link every host driver in). Turns are granted
// in the order they were asked for (FIFO), so a read on demand waits
// behind the reads already queued and never starves. A turn may be
// given up while waiting, when its ctx ends.
//
// The bus handed to the turn's function is valid for that turn only:
// a driver that keeps it (periph drivers do, in an i2c.Dev) gets
// [ErrTurnOver] if it uses it afterwards, so it must re-point its
// device at each turn's bus.
//
// # Caveats
//
//   - Any error returned by a transaction (Tx) closes the bus at the end
//     of the turn, and the next turn reopens it: the adapter or its
//     kernel driver may have gone (a USB adapter unplugged, a module
//     reloaded). Linux reports a device that does not answer (NACK) the
//     same way, so a missing device costs one reopen per failed turn,
//     which is cheap (open(2) and one ioctl). A panic in the turn's
//     function closes the bus too. An error the function makes up
//     itself, without a failed Tx, leaves the bus open.
//   - After a failed open, turns fail at once with the same
//     [*OpenError], naming the path and the cause, until a backoff has
//     passed: 1 s after the first failure, doubling up to 30 s, jittered.
//     A successful open resets it.
//   - The function runs on the caller's goroutine and is not
//     interrupted: a turn lasts as long as it does, and every other user
//     of the bus waits meanwhile. Drivers must bound their turns (by the
//     ctx they are given).
//   - [Bus.Close] waits for the turn in progress, then closes the
//     adapter; turns still queued, and any later ones, fail with
//     [ErrClosed]. Drivers never close a Bus: whoever opened it (the
//     daemon, through Buses) does.
//   - The default opener accepts only /dev/i2c-N paths.
package i2cbus
