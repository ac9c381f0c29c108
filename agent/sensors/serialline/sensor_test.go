package serialline_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/serialline"
	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/lograte"
	"github.com/iot-hub/agent/internal/ptytest"
	"github.com/iot-hub/agent/internal/syncbuf"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var units = map[string]string{"t": "Cel", "h": "%"}

// start makes a port at path and a sensor of format reading it, closed
// by t.Cleanup, and waits until the port is open.
func start(t *testing.T, path, format string) (*serialline.Sensor, *serialport.Port) {
	t.Helper()
	port, err := serialport.New(serialport.Config{Path: path, Baud: 115200, ReopenMin: 5 * time.Millisecond, ReopenMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	s, err := serialline.New(serialline.Config{Name: "mcu", Port: port, Settings: serialline.Settings{Format: format, Units: units, MaxLineBytes: 64}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	waitFor(t, "the port to open", func() bool { return port.Generation() == 1 })
	return s, port
}

// say writes text to the device side.
func say(t *testing.T, dev *ptytest.Pair, text string) {
	t.Helper()
	if _, err := dev.Write([]byte(text)); err != nil {
		t.Fatalf("device write: %v", err)
	}
}

// read reads s, within 10 s.
func read(t *testing.T, s *serialline.Sensor) []sensors.Reading {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rs, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("Read = %v", err)
	}
	return rs
}

// readNone reads s with a short ctx, which must end with ErrNoRecord; it
// returns the error.
func readNone(t *testing.T, s *serialline.Sensor) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	rs, err := s.Read(ctx)
	if !errors.Is(err, serialline.ErrNoRecord) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read = %v, %v; want ErrNoRecord, DeadlineExceeded", rs, err)
	}
	return err
}

// waitFor waits until cond holds, failing t after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func r(m string, v float64) sensors.Reading {
	return sensors.Reading{Metric: m, Value: v, Unit: units[m]}
}

func TestJSONLines(t *testing.T) {
	dev := ptytest.NewPair(t)
	s, _ := start(t, dev.Path(), serialline.FormatJSON)
	if s.Name() != "mcu" {
		t.Errorf("Name() = %q", s.Name())
	}

	// The port opened in the middle of a line.
	say(t, dev, "21.5,\"h\":40}\r\n{\"t\":21.5,\"h\":40,\"ok\":true,\"fw\":\"1.2\",\"n\":null,\"o\":{\"x\":1}}\r\n")
	if got, want := read(t, s), []sensors.Reading{r("t", 21.5), r("h", 40), r("ok", 1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Read = %v; want %v", got, want)
	}
	if got, want := s.Skipped(), (serialline.Skips{Partial: 1}); got != want {
		t.Errorf("Skipped() = %+v; want %+v", got, want)
	}

	say(t, dev, "{\"t\":\n\xff\xfe\x00\n"+strings.Repeat("x", 100)+"\n{\"fw\":\"x\"}\n[1]\r\n\r\n\r\n{\"end\":1}\n")
	if got, want := read(t, s), []sensors.Reading{r("end", 1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Read = %v; want %v", got, want)
	}
	if got, want := s.Skipped(), (serialline.Skips{Partial: 1, Oversize: 1, Garbage: 1, Malformed: 2, NoValue: 1}); got != want {
		t.Errorf("Skipped() = %+v; want %+v", got, want)
	}
}

func TestKVNewestRecordWins(t *testing.T) {
	dev := ptytest.NewPair(t)
	s, _ := start(t, dev.Path(), serialline.FormatKV)
	say(t, dev, "\nt=1 h=10\nt=2;h=20\r\nt=3, h=30, state=on, x=NaN\r\n")
	waitFor(t, "three records", func() bool { return serialline.Records(s) == 3 })
	if got, want := read(t, s), []sensors.Reading{r("t", 3), r("h", 30)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Read = %v; want the newest record %v", got, want)
	}
	readNone(t, s) // a record is returned once
	if got := s.Skipped(); got != (serialline.Skips{}) {
		t.Errorf("Skipped() = %+v; want none (the open was at a line's end)", got)
	}
}

func TestSilentDevice(t *testing.T) {
	dev := ptytest.NewPair(t)
	s, _ := start(t, dev.Path(), serialline.FormatKV)
	err := readNone(t, s)
	for _, want := range []string{"mcu", dev.Path(), "skipped since the last record: none"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Read = %q; want it to name %q", err, want)
		}
	}
	say(t, dev, "3.5\n\xc3\x28\nhello\n")
	waitFor(t, "three skipped lines", func() bool { return s.Skipped().Total() == 3 })
	if err := readNone(t, s); !strings.Contains(err.Error(), "skipped since the last record: 1 partial, 1 garbage, 1 no value") {
		t.Errorf("Read = %q; want it to say what was skipped", err)
	}
}

func TestUnplugReplugWhileReading(t *testing.T) {
	link := ptytest.NewLink(t)
	s, port := start(t, link.Path(), serialline.FormatKV)
	first := link.Pair().Path()
	say(t, link.Pair(), "\nt=1\n")
	if got := read(t, s); !reflect.DeepEqual(got, []sensors.Reading{r("t", 1)}) {
		t.Fatalf("Read = %v", got)
	}

	// Pulled in the middle of a line.
	say(t, link.Pair(), "t=2")
	waitFor(t, "the sensor to hold the line's start", func() bool { return serialline.Pending(s) == 3 })
	link.Unplug()
	waitFor(t, "the sensor to see the port unavailable", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		_, err := s.Read(ctx)
		return errors.Is(err, serialport.ErrUnavailable) && strings.Contains(err.Error(), "no such file or directory")
	})
	if got, want := s.Skipped(), (serialline.Skips{Partial: 1}); got != want {
		t.Errorf("Skipped() after the unplug = %+v; want %+v (the cut line)", got, want)
	}

	dev := link.Replug()
	if dev.Path() == first {
		t.Fatalf("replugged at the same tty %s", first)
	}
	waitFor(t, "the port to reopen", func() bool { return port.Generation() == 2 })
	say(t, dev, "=9\nt=3\n")
	if got := read(t, s); !reflect.DeepEqual(got, []sensors.Reading{r("t", 3)}) {
		t.Errorf("Read after replug = %v; want t=3", got)
	}
	if got, want := s.Skipped(), (serialline.Skips{Partial: 2}); got != want {
		t.Errorf("Skipped() after the replug = %+v; want %+v", got, want)
	}
}

func TestClose(t *testing.T) {
	dev := ptytest.NewPair(t)
	s, port := start(t, dev.Path(), serialline.FormatKV)
	res := make(chan error, 1)
	go func() {
		_, err := s.Read(t.Context())
		res <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-res; !errors.Is(err, serialline.ErrClosed) {
		t.Errorf("Read during Close = %v; want ErrClosed", err)
	}
	if _, err := s.Read(t.Context()); !errors.Is(err, serialline.ErrClosed) {
		t.Errorf("Read after Close = %v; want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	// The port is the owner's, still usable.
	if err := port.Do(t.Context(), func(context.Context, serialport.Conn) error { return nil }); err != nil {
		t.Errorf("port Do after the sensor's Close = %v", err)
	}
}

func TestPortClosedFirst(t *testing.T) {
	dev := ptytest.NewPair(t)
	s, port := start(t, dev.Path(), serialline.FormatKV)
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Read to report the closed port", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		_, err := s.Read(ctx)
		return errors.Is(err, serialport.ErrClosed)
	})
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	port, err := serialport.New(serialport.Config{Path: "/dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	tests := []struct {
		name string
		cfg  serialline.Config
		want string
	}{
		{"no name", serialline.Config{Port: port, Settings: serialline.Settings{Format: "kv"}}, "Name is required"},
		{"no port", serialline.Config{Name: "x", Settings: serialline.Settings{Format: "kv"}}, "Port is required"},
		{"no format", serialline.Config{Name: "x", Port: port}, `Format "" must be "json" or "kv"`},
		{"bad format", serialline.Config{Name: "x", Port: port, Settings: serialline.Settings{Format: "csv"}}, `Format "csv"`},
		{"line size", serialline.Config{Name: "x", Port: port, Settings: serialline.Settings{Format: "kv", MaxLineBytes: -1}}, "MaxLineBytes -1 must be between 1 and 1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := serialline.New(tt.cfg)
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%+v) = %v; want an error containing %q", tt.cfg, err, tt.want)
			}
		})
	}
}

// A device that sends garbage at line rate: every line is counted, and
// the debug log has a line a minute per reason, not one per line.
func TestGarbageIsLoggedOnceAMinute(t *testing.T) {
	dev := ptytest.NewPair(t)
	port, err := serialport.New(serialport.Config{Path: dev.Path(), Baud: 115200})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	var logs syncbuf.Buffer
	s, err := serialline.New(serialline.Config{Name: "mcu", Port: port, Settings: serialline.Settings{Format: serialline.FormatKV, MaxLineBytes: 64},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	waitFor(t, "the port to open", func() bool { return port.Generation() == 1 })
	start := time.Now()
	const n = 500
	say(t, dev, "\n"+strings.Repeat("hello\n", n)) // the first line may be partial: skipped as such
	waitFor(t, "every line skipped", func() bool { return s.Skipped().Total() >= n })
	elapsed := time.Since(start)
	lines := strings.Count(logs.String(), `msg="serial line skipped" reason="no value"`)
	if most := 1 + int(elapsed/lograte.DefaultInterval); lines < 1 || lines > most {
		t.Errorf("%d lines without a value in %v: %d log lines; want 1 to %d", n, elapsed, lines, most)
	}
}
