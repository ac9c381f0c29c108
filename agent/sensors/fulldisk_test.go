package sensors_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/internal/smallfs"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// TestFullDiskIsNotASensorFailure: with the outbox's disk full, the
// readings are refused, but the sensor works: it is read at its
// interval, not backed off, reported ok, and not logged as failing (the
// outbox says once that the disk is full).
func TestFullDiskIsNotASensorFailure(t *testing.T) {
	dir := smallfs.Mount(t, 2<<20)
	box := outboxtest.OpenAt(t, filepath.Join(dir, "outbox.db"), outbox.Config{ReserveBytes: 256 << 10})
	smallfs.Fill(t, filepath.Join(dir, "filler"))

	var logs syncbuf.Buffer
	sen := sensorstest.New("board")
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", Logger: slog.New(slog.NewTextHandler(&logs, nil)), MaxBackoff: time.Hour}, box,
		sensors.Schedule{Sensor: sen, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// Backed off as a failing sensor is, 100 reads would take far
	// longer than the deadline.
	deadline := time.Now().Add(20 * time.Second)
	for box.Stats().Dropped.Refused < 100 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if n := box.Stats().Dropped.Refused; n < 100 {
		t.Fatalf("%d readings refused by the full outbox in 20 s of reads every millisecond (%d reads); want 100 or more", n, sen.Reads())
	}
	sts, err := s.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st := sts[0]; st.Health != sensors.HealthOK || st.Failures != 0 || len(st.Readings) != 1 {
		t.Errorf("status with the outbox's disk full = %+v; want ok, no failures, the latest reading", st)
	}
	if strings.Contains(logs.String(), "sensor failed") {
		t.Errorf("the sensor was logged as failing:\n%s", logs.String())
	}
}
