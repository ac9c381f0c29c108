// Package sht reads Sensirion's SHT3x and SHT4x humidity and temperature
// sensors over I²C, on the shared bus queue of package i2cbus. periph.io
// has no driver for them; the protocol is a command, a wait and six
// bytes:
//
//   - SHT4x (its datasheet's command table): "measure T & RH with high
//     precision" 0xFD, at most 8.3 ms, then T (2 bytes, CRC) and RH (2
//     bytes, CRC);
//     RH = −6 + 125·S/65535, clipped to 0..100 % as the datasheet says.
//   - SHT3x (the SHT3x-DIS datasheet's single shot commands): high
//     repeatability, clock stretching off, 0x2400, at most 15.5 ms, the
//     same six bytes (the chip NACKs a read before it is done);
//     RH = 100·S/65535.
//
// For both T = −45 + 175·S/65535 °C, and each pair of bytes carries
// Sensirion's CRC-8 (x⁸ + x⁵ + x⁴ + 1, initial 0xFF): a pair whose CRC
// fails fails the read, never becoming a reading.
//
// Each Read returns temperature (Cel) and humidity (%), in one turn on
// the bus: nothing else on the bus runs during the measurement's wait.
// Errors name the chip, the bus and the address.
package sht
