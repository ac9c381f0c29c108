// Package ptytest gives tests serial devices made of Linux pseudo-terminals,
// so that code that opens a tty path (the agent's serialport, pyserial, socat) can
// be tested without hardware.
//
// There are only a few types. A [Pair] is one pseudo-terminal: the test's
// simulated device reads and writes its master side (the Pair itself is an
// io.ReadWriteCloser), and the code under test opens [Pair.Path], a
// /dev/pts/N tty. A [Link] is a stable symlink, like
// /dev/serial/by-id/usb-FTDI_..., that points at a pair's tty and can be
// unplugged and plugged in again ([Link.Unplug], [Link.Replug]). A
// [NullModem] is two pairs whose masters are bridged, so that two programs
// that each open one tty path talk as over a crossed cable.
//
//	dev := ptytest.NewLink(t)            // dev.Path(): the by-id symlink
//	port := open(dev.Path())             // the code under test
//	dev.Pair().Write([]byte("t=21.5\n")) // the device speaks
//	dev.Unplug()                         // the agent's writes fail with EIO
//	dev.Replug()                         // a new /dev/pts/M behind the link
//
// Everything a constructor makes is closed by t.Cleanup.
//
// # Bytes pass unaltered
//
// A new pair's tty is put in raw mode (no echo, no CR/NL translation, no
// XON/XOFF, no signals, 8 bits) before anyone opens it, so every byte value
// (0x00, 0x0A, 0x0D, 0x11, 0x13 included) passes both ways as written, even
// to a program that opens the path without configuring it.
// The agent's serialport sets raw mode again when it opens the tty, and its baud
// rate, parity and stop bits, which a pty stores but ignores: a pty
// transfers bytes instantly and never makes framing or parity errors.
//
// # Caveats
//
//   - The pair keeps its own descriptor of the tty open until it is
//     closed, so that the device side never sees EIO while the code under
//     test has the tty closed (between two opens, say). Bytes the device
//     writes while nobody has the tty open wait in the tty's input buffer
//     (4 KiB), unlike on a real UART, which loses them; a device that
//     writes more blocks until the tty is read or flushed.
//   - Closing a pair (an unplug) hangs the tty up, exactly as when a USB
//     adapter is pulled: the other side's writes fail with EIO and its
//     reads return end of file (0 bytes); its /dev/pts/N node disappears once the other side
//     has closed it too.
//   - Linux reuses a freed /dev/pts number for the next pty; [Link.Replug]
//     makes sure the new tty has a number the link never had.
//   - Writes on a tty whose other side is not read block when the kernel's
//     buffer is full: a simulated device must keep reading.
//   - Linux only.
package ptytest
