// Package serialport shares a serial port (a UART, a USB adapter, an
// RS-485 bus) between the sensors on it: one bus, one queue.
//
// There are only a few types. A [Port] is one device path and its framing
// ([Config]: baud, data bits, parity, stop bits). Every transaction is a
// function given to [Port.Do], which runs it alone on the port with a
// [Conn] (read, write, flush, drain), in the order the transactions asked:
// a scheduled poll and a read on demand never interleave on the wire.
// [Ports] is the daemon's registry: one *Port per path, whatever the
// number of sensors configured on it. [Settings] are a port's keys in
// the configuration file (port, baud, dataBits, parity, stopBits), which
// a sensor type on a serial line takes beside its own; Settings.Config
// makes the port's Config.
//
//	err := port.Do(ctx, func(ctx context.Context, c serialport.Conn) error {
//		if _, err := c.Write(request); err != nil {
//			return err
//		}
//		c.SetReadTimeout(100 * time.Millisecond)
//		n, err := c.Read(buf) // ErrTimeout: the device kept silent
//		...
//	})
//
// # Losing and finding the port
//
// The port opens when a transaction needs it. A read or write that fails
// other than by a timeout (the adapter was pulled) fails with ErrPortLost,
// and Do closes the device; a later Do opens the path again, following a
// /dev/serial/by-id/... symlink to wherever the device came back. After a
// failed open, Do does not retry before a capped, jittered exponential
// backoff (ReopenMin doubling up to ReopenMax) has passed: until then it
// fails at once with an [*OpenError] that says when the next attempt is.
// Each outage is logged once ("serial port lost" or "serial port
// unavailable"), and so is the recovery ("serial port reopened").
//
// # Caveats
//
//   - Each open discards the input received before it (it is stale), and
//     [Port.Generation] changes, so a transaction can tell that bytes may
//     have been lost since its previous one.
//   - The device is opened non-blocking, in the runtime's poller, as a
//     socket is: a Read waiting parks its goroutine, not a thread, and a
//     cancelled ctx or [Port.Close] ends it at once. The framing is set
//     with termios2, so any baud rate the UART can make is taken.
//   - A read never waits past the transaction's ctx deadline; a write
//     cannot be interrupted (with no flow control a UART always drains).
//   - The port is opened with TIOCEXCL: another non-root process cannot
//     open it while the agent has it open (EBUSY); root ignores TIOCEXCL.
//     Two Ports on two symlinks to the same device are not detected.
//   - Linux only: elsewhere opening a port fails with
//     errors.ErrUnsupported.
//   - A Conn is valid only inside its transaction, on its goroutine.
package serialport
