// Package bme280 reads a Bosch BME280 (temperature, pressure, humidity)
// over I²C, with periph.io's bmxx80 driver in forced mode: each Read
// triggers one measurement and the chip sleeps in between, which keeps
// its self-heating off the temperature.
//
// There are only a few types. A [Config] says where the chip is (a
// shared [i2cbus.Bus] and an address) and how to measure; [New] checks
// it and returns a [Sensor], which implements sensors.Sensor. [Settings]
// are the keys of a bme280 sensor in the agent's configuration file,
// which make a Config.
//
// # Readings
//
// Each Read returns, in this order:
//
//   - temperature, unit Cel (°C), 0.01 °C steps;
//   - pressure, unit hPa (hectopascal, = mbar; what weather services
//     quote: about 1013 at sea level), unless Oversampling.Pressure is
//     Off;
//   - humidity, unit % (relative humidity, 0 to 100), unless
//     Oversampling.Humidity is Off or the chip is a BMP280.
//
// Defaults follow Bosch's "weather monitoring" settings: address 0x76,
// ×1 oversampling of all three, IIR filter off.
//
// # Caveats
//
//   - New does no I/O. The first Read initialises the chip (chip id,
//     calibration, configuration: 5 or 6 transactions); a failed Read
//     makes the next one initialise it again, so a chip that was
//     unplugged, power-cycled or replaced comes back by itself.
//   - A BMP280 (chip id 0x58, often sold as a "BME280") has no humidity
//     sensor: the Sensor reads temperature and pressure from it, logs
//     one warning, and Chip reports "BMP280". Any other chip id (a
//     BMP180, a BME680, another device at the address) fails every Read
//     with ErrUnsupportedChip.
//   - Each Read is one turn on the bus: nothing else on the bus runs
//     while it measures, about 8 ms at ×1 and up to 113 ms at ×16. bmxx80
//     sleeps the typical measurement time, then polls the status
//     register; the poll gives up when Read's ctx ends, or after
//     TurnTimeout. The sleep is not interrupted.
//   - Errors name the bus and address: "bme280 /dev/i2c-1 0x76: measure:
//     sysfs-i2c: remote I/O error". On Linux, a chip that is not there
//     (or not wired) shows as a remote I/O error at every Read.
//   - The IIR filter (Config.Filter) works in forced mode too but
//     filters only temperature and pressure, never humidity. bmxx80
//     sets it only in normal mode, so the Sensor writes the config
//     register itself.
//   - bmxx80 reads the humidity trimming values dig_H4 and dig_H5 as
//     unsigned: a chip with a negative one (none seen so far) would read
//     a wrong humidity.
//   - The Sensor never closes its Bus: whoever opened it does.
package bme280
