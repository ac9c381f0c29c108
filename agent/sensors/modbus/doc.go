// Package modbus is the modbus-rtu and modbus-tcp sensor drivers: a
// Modbus client that reads holding registers (function 3) and input
// registers (function 4) of one slave on a serial line, through a
// serialport.Port shared with the other slaves of the line, or of one
// unit of a Modbus TCP server, through a [Server] shared with the other
// units behind it ([TCPSettings], tcp.go: MBAP framing with transaction
// ids, or RTU frames over TCP for serial device servers; one request at
// a time on one connection, made again with backoff when lost).
//
// There are only a few types. A [Config] gives the port and the
// [Settings]: the slave and its [Register]s (per metric, where the value
// is (function, address), how it is encoded ([DataType], [WordOrder])
// and how it is scaled), how long a request waits and how often it is
// retried. A [Sensor] reads them all at each Read. Errors are an
// [*ExceptionError] when the slave refused a request, else they wrap
// [ErrTimeout], [ErrCRC], [ErrFrame], [ErrNotFinite] or the port's
// errors; New's are *confkeys.FieldErrors naming the key, as in
// "registers[2].type".
//
// Settings are also the keys of a modbus-rtu sensor in the agent's
// configuration file, with their limits and defaults
// ([Settings.SetDefaults]): its rules, [Settings.Validate], are the same
// for both.
//
// # A read
//
// Registers of one function whose spans touch or overlap are read with
// one request, up to 125 registers; a gap starts another request, as
// does a register that would not fit. Each attempt of a request is one
// turn on the port ([serialport.Port.Do]): it waits until the line has
// been quiet for t3.5 (3.5 characters of 11 bits, 1750 µs above 19200
// baud) since the last byte of any frame of any slave, drops the input
// buffer, sends the request, and reads the response up to the length
// the request implies (or an exception's), for at most ResponseTimeout.
// A timeout, a CRC error or a malformed frame is retried, Retries times,
// each attempt in a turn of its own so that the other slaves' requests go
// between: a silent slave holds the line for one ResponseTimeout at a
// time. An exception is not retried, nor is a lost port (the port reopens at
// the next read).
//
// # Caveats
//
//   - Addresses are the wire's, 0-based: the register a data sheet
//     calls 40001 (holding) or 30001 (input) is address 0.
//   - Within a register the byte order is always big-endian, as Modbus
//     defines; only the order of the two words of a 32-bit value is
//     configurable. Byte-swapped devices (BADC, DCBA) are not supported.
//   - A read is all or nothing: a failed request, or a float32 register
//     holding NaN or an infinity, fails the whole read with an error that
//     names the slave, function and registers, or the metric.
//   - A read takes up to requests × (Retries+1) × (ResponseTimeout +
//     t3.5), plus the turns of the line's other sensors; the sampler's
//     bound on a read must allow that, or reads end with the context's
//     error.
//   - A response must begin with the first byte received: noise before
//     it costs an attempt rather than being skipped. After a damaged
//     frame the attempt lets the line settle (at least 20 ms of silence)
//     so that the frame's rest is not taken for the next response.
//   - Modbus RTU has no transaction ids: an answer arriving after its
//     attempt gave up, yet after the next attempt dropped the input
//     buffer, would be taken for that attempt's answer (the same
//     registers, a little older).
//   - The inter-frame gap is tracked per *serialport.Port: every sensor
//     of a line must share one Port (serialport.Ports.Get does), and
//     other protocols' traffic on that port is not seen.
//   - Reads only: no writes, no broadcast (slave 0), no other functions.
package modbus
