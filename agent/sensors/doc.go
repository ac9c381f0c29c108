// Package sensors is what the agent reads: the [Sensor] interface its
// drivers implement, and the [Sampler] that reads each sensor at its
// interval and queues the readings as device.telemetry events in the
// outbox.
//
// There are only a few types. A [Sensor] has a name and gives
// [Reading]s. A [Schedule] says how often to read one. A [Sampler] runs
// a goroutine per scheduled sensor, keeps each sensor's [Status] (its
// latest readings and [Health]) and reads on demand. Drivers live in
// sub-packages (sim, thermal, modbus, serialline, bme280, on the shared
// serialport and i2cbus), each declaring its type's configuration keys;
// drivers is their registry, which opens the configured sensors;
// sensorstest has a fake.
//
// # Caveats
//
//   - A read is bounded by the sensor's timeout, at most its interval: a
//     sensor that hangs skips readings rather than piling them up.
//   - A failing sensor is read less often: its interval doubles with
//     every failure, up to a cap (a minute by default); the first success
//     brings it back to its interval.
//   - The sensors of one interval are read together, on a grid whose
//     start SamplerConfig.StartJitter delays at random: their events
//     share the outbox's commits and the uplink's writes, and gateways
//     that start together do not publish in step.
//   - A sensor's reads never overlap: a read on demand waits for a
//     scheduled read in progress, and the other way round.
//   - A sensor that keeps failing the same way is logged once, then every
//     minute with a count, and once more when it recovers.
//   - A reading the outbox has no room for, its disk being full
//     (outbox.ErrNoSpace), is lost, but the read counts as a success:
//     the outbox counts such readings and logs the condition, once for
//     all the sensors, and the sensors keep their intervals, so that the
//     readings go on as soon as there is room.
//   - Every read is one event with a new correlationId; its readings carry
//     the time the read returned.
//   - The schedule and the readings' times follow SamplerConfig.Clock,
//     its timers included, so that a test's fake clock moves both; a
//     read's timeout is the system's time, as the sensor's I/O takes real
//     time.
package sensors
