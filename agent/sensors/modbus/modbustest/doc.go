// Package modbustest simulates an RS-485 line of Modbus RTU slaves for
// tests, on the device side of a pseudo-terminal (a ptytest.Pair's
// master).
//
// There are only a few types. A [Line] is the line: it reads every
// request on it, checks it, and lets the [Slave] it addresses answer. A
// Slave has a holding and an input register table and can be told to
// stay silent or to answer its next requests badly ([Fault]). Every
// request the line saw is a [Request], in order, with the [Answer] it
// got.
//
// # The line fails the test
//
// The Line is the wire's witness: it fails the test (t.Errorf) on any
// malformed request (bad CRC, wrong length, a function other than 3 or
// 4, a count outside 1..125) and on a request that begins less than the
// inter-frame gap t3.5 after the previous frame on the line ended, which
// is also how the bytes of two requests written back to back or
// interleaved show. A test that passes therefore proves that the driver
// kept one request at a time on the wire, its frames apart.
//
// The package does not import the driver: its framing and its CRC are
// written apart from the driver's, so that each checks the other.
//
// # Caveats
//
//   - A pty delivers bytes instantly, so the gap is measured from when
//     the line reads a request or starts writing an answer; the check
//     errs only towards passing. Use a low baud rate (t3.5 is 16 ms at
//     2400 baud) where the gap is what is under test.
//   - Requests are framed by length (8 bytes for functions 3 and 4), not
//     by silence: after a malformed request, the line drops what follows
//     it until a pause of t3.5.
//   - A request for an address with no Slave is checked and not
//     answered, as on a multi-drop line. Address 0 (broadcast) is a
//     malformed request: reads are never broadcast.
package modbustest
