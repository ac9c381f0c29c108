package sensors

import "errors"

// Errors.
var (
	// ErrAbsent: a driver's source is not there (no thermal zone on this
	// board, no device on the bus). The daemon logs it once and runs
	// without the sensor.
	ErrAbsent = errors.New("sensor source absent")
	// ErrNoReadings: a sensor's Read returned neither readings nor an
	// error.
	ErrNoReadings = errors.New("sensor returned no readings")
	// ErrUnknownSensor: a name given to [Sampler.Status] or
	// [Sampler.ReadNow] is not one of the sampler's sensors.
	ErrUnknownSensor = errors.New("unknown sensor")
	// ErrPanicked: a sensor's driver panicked while reading; the read
	// counts as failed and the agent goes on.
	ErrPanicked = errors.New("sensor driver panicked")
)
