package i2cbus_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"periph.io/x/conn/v3/i2c"

	"github.com/iot-hub/agent/agent/sensors/i2cbus"
)

func TestBuses(t *testing.T) {
	a := &adapters{Bus: playback(t)}
	bs := &i2cbus.Buses{Opener: a.open}
	one, three := bs.Get("/dev/i2c-1"), bs.Get("/dev/i2c-3")
	if bs.Get("/dev//i2c-1") != one {
		t.Error("Get of the same path returned another Bus")
	}
	if one == three {
		t.Error("Get of two paths returned the same Bus")
	}
	for _, b := range []*i2cbus.Bus{one, three} {
		if err := b.Do(context.Background(), func(i2c.Bus) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := a.paths, []string{"/dev/i2c-1", "/dev/i2c-3"}; !slices.Equal(got, want) {
		t.Errorf("opened %v; want %v", got, want)
	}
	if err := bs.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, closes := a.counts(); closes != 2 {
		t.Errorf("Close closed %d adapters; want 2", closes)
	}
	for _, b := range []*i2cbus.Bus{one, bs.Get("/dev/i2c-1")} {
		if err := b.Do(context.Background(), func(i2c.Bus) error { return nil }); !errors.Is(err, i2cbus.ErrClosed) {
			t.Errorf("Do after Buses.Close = %v; want ErrClosed", err)
		}
	}
	if err := bs.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
}
