package sensors_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/contracts"
)

// mergingBox is a ReadingsAppender that keeps what it is given.
type mergingBox struct {
	mu       sync.Mutex
	readings [][]contracts.Reading
	records  int
}

func (b *mergingBox) Append(context.Context, ...outbox.Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.records++
	return nil
}

func (b *mergingBox) AppendReadings(_ context.Context, rs []contracts.Reading) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readings = append(b.readings, rs)
	return "4f5c1a2e-8d3b-4c6a-9e7f-0a1b2c3d4e5f", nil
}

// TestSampleGivesReadingsToAMergingAppender: with a ReadingsAppender,
// the sampler hands it a read's readings, checked, and appends no event
// of its own; readings the contract refuses are the sensor's failure,
// and nothing is appended.
func TestSampleGivesReadingsToAMergingAppender(t *testing.T) {
	box := &mergingBox{}
	at := time.Date(2026, 12, 7, 10, 15, 30, 0, time.UTC)
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw-7", Clock: fixedClock{at}}, box)
	if err != nil {
		t.Fatal(err)
	}
	sen := sensorstest.New("bme", sensorstest.Result{Readings: []sensors.Reading{{Metric: "temperature", Value: 21.5, Unit: "Cel"}}})
	if err := s.Sample(context.Background(), sen); err != nil {
		t.Fatalf("Sample = %v", err)
	}
	if box.records != 0 || len(box.readings) != 1 {
		t.Fatalf("%d records and %d sets of readings appended; want no record, one set", box.records, len(box.readings))
	}
	want := contracts.Reading{Sensor: "bme", Metric: "temperature", Value: 21.5, Unit: "Cel", At: at}
	if got := box.readings[0]; len(got) != 1 || got[0] != want {
		t.Errorf("readings %+v; want [%+v]", got, want)
	}

	bad := sensorstest.New("broken", sensorstest.Result{Readings: []sensors.Reading{{Metric: "temperature", Value: math.NaN(), Unit: "Cel"}}})
	err = s.Sample(context.Background(), bad)
	var ce *contracts.Error
	if !errors.As(err, &ce) || ce.Path != "payload.readings[0].value" {
		t.Errorf("Sample of a NaN = %v; want a contracts error naming payload.readings[0].value", err)
	}
	if len(box.readings) != 1 {
		t.Errorf("%d sets of readings appended; want the NaN's refused", len(box.readings))
	}
}
