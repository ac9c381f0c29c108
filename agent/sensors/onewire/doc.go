// Package onewire reads 1-Wire temperature probes (DS18B20 and the other
// chips of Linux's w1_therm driver) through sysfs:
// /sys/bus/w1/devices/<id>/w1_slave, or its temperature file where the
// kernel has no w1_slave.
//
// A [Sensor] reads the probes on the bus, one reading each: metric the
// probe's id ("28-0316a2791cff") or its name from [Settings.Names], unit
// Cel. Probes are found by themselves: the bus is listed again every
// 10 s, the kernel's own search interval, and at the read after a probe
// was gone, so a probe plugged in later is read from then on.
// [Settings.Probes]
// limits a sensor to the probes it names; one sensor per probe gives each
// its own health in getSensors.
//
// A probe's read is a failure, not a reading, when:
//
//   - the kernel found its CRC wrong (w1_slave's first line ends in NO),
//     or the scratchpad's CRC (Maxim's CRC-8, checked here again) does not
//     match;
//   - it reads 85000, the DS18B20's power-on value: the conversion did not
//     run (the probe lost power, or parasite power was too weak);
//   - its scratchpad is all zeros: a probe that no longer answers, whose
//     CRC of zero passes.
//
// # Caveats
//
//   - A conversion takes up to 750 ms per probe at 12 bits, one probe
//     after the other: the kernel holds the bus for it. Give a sensor of
//     n probes a timeout above n × 750 ms.
//   - A probe that fails is left out of the read, which fails only when
//     every probe does; its error is in the read's error then.
//   - A path that is not there (w1 modules not loaded) makes New fail
//     with sensors.ErrAbsent; a bus with no probe yet is not absent: its
//     reads fail until one is plugged in.
package onewire
