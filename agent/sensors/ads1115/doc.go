// Package ads1115 reads a Texas Instruments ADS1115 (16-bit, 4-input
// ADC) over I²C, on the shared bus queue of package i2cbus: one
// single-shot conversion per channel per read, each channel with its
// own input (single-ended or differential), full-scale range, and a
// linear conversion of its volts to a metric (a 4–20 mA loop's shunt, a
// divider, a sensor's transfer function).
//
// It does not use periph.io's ads1x15 driver: that sleeps one nominal
// conversion period and reads the result without checking the config
// register's OS bit, and the ADS1115's data rate is only within ±10 %
// (datasheet, "Electrical Characteristics"), so a read can return the
// previous conversion: the previous channel's, when a sensor reads
// several. This driver starts a conversion, waits the nominal period
// and a tenth, then polls OS until the conversion is done (at most
// three periods), and only then reads the conversion register.
//
// Registers (datasheet, "Register Map"): pointer 0 the conversion
// (two's complement, FSR/32768 a step), 1 the config: OS[15] MUX[14:12]
// PGA[11:9] MODE[8] DR[7:5] and the comparator, disabled (COMP_QUE 11).
package ads1115
