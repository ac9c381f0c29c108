package sensors

import "context"

// Sensor is something the agent reads: a driver for one device or
// source. Read is called from one goroutine at a time.
type Sensor interface {
	// Name is the sensor's configured name, as it appears in telemetry.
	Name() string
	// Read returns the current readings, at least one, or an error. It
	// must return soon after ctx ends.
	Read(ctx context.Context) ([]Reading, error)
}

// Reading is one metric of one read.
type Reading struct {
	// Metric is what was measured: "temperature".
	Metric string
	// Value is the measured value; it must be finite.
	Value float64
	// Unit is the UCUM unit: "Cel", "%"; empty for a count.
	Unit string
}
