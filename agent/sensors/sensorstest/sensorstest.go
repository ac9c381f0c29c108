// Package sensorstest has a fake sensors.Sensor for tests.
package sensorstest

import (
	"context"
	"sync"

	"github.com/iot-hub/agent/agent/sensors"
)

// Result is what one Read of a Sensor returns.
type Result struct {
	// Readings are returned when Err is nil.
	Readings []sensors.Reading
	// Err, when not nil, is the error Read returns.
	Err error
}

// Sensor is a fake sensor that returns its results in turn, the last one
// again and again. It is safe for concurrent use.
type Sensor struct {
	name string

	mu      sync.Mutex
	results []Result
	reads   int
}

var _ sensors.Sensor = (*Sensor)(nil)

// New returns a sensor named name that returns results in turn; with no
// results, it reads temperature 21.5 Cel every time.
func New(name string, results ...Result) *Sensor {
	if len(results) == 0 {
		results = []Result{{Readings: []sensors.Reading{{Metric: "temperature", Value: 21.5, Unit: "Cel"}}}}
	}
	return &Sensor{name: name, results: results}
}

// Name returns the name given to New.
func (s *Sensor) Name() string { return s.name }

// Read returns the next result; ctx is not looked at.
func (s *Sensor) Read(context.Context) ([]sensors.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.results[min(s.reads, len(s.results)-1)]
	s.reads++
	return r.Readings, r.Err
}

// Reads returns how many times Read was called.
func (s *Sensor) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}
