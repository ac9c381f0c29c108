package bme280_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/iot-hub/agent/agent/sensors/bme280"
)

// router is a bus with one device per address, each with its own
// transcript.
type router map[uint16]*i2ctest.Playback

func (r router) String() string                  { return "router" }
func (r router) SetSpeed(physic.Frequency) error { return nil }
func (r router) Tx(addr uint16, w, rd []byte) error {
	p, ok := r[addr]
	if !ok {
		return fmt.Errorf("no device at %#x", addr)
	}
	return p.Tx(addr, w, rd)
}

var _ i2c.Bus = router(nil)

func TestSensorsOnOneBusTakeTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const reads = 4
		low, high := bench, bench
		high.addr = 0x77
		high.cal.T1 += 100 // tell their readings apart
		devices := []device{low, high}
		raw := func(i int) adc { return adc{T: 519888 + int32(i)*1000, P: 310000, H: 29000} }

		r := router{}
		for _, d := range devices {
			ops := [][]i2ctest.IO{d.initOps(defaults)}
			for i := range reads {
				ops = append(ops, d.measureOps(defaults, 1, raw(i)))
			}
			r[d.addr] = playback(t, ops...)
		}
		rec := &i2ctest.Record{Bus: r}
		b, _ := openBus(t, rec)

		var wg sync.WaitGroup
		for _, d := range devices {
			s := newSensor(t, b, d, bme280.Config{})
			wg.Go(func() {
				for i := range reads {
					rs, err := s.Read(context.Background())
					if err != nil {
						t.Errorf("%#x: Read #%d = %v", d.addr, i, err)
						return
					}
					want, _ := compensateT(d.cal, raw(i).T)
					if math.Abs(rs[0].Value-want) > tolCelsius {
						t.Errorf("%#x: read #%d: temperature %v; want %v", d.addr, i, rs[0].Value, want)
					}
				}
			})
		}
		wg.Wait()

		// The transcript must split into whole reads, one device's each:
		// the first initialises (5 transactions) and measures (4), the
		// others measure.
		initLen, measureLen := len(low.initOps(defaults)), len(low.measureOps(defaults, 1, adc{}))
		done := map[uint16]int{} // reads so far, by address
		var turns []uint16
		for i := 0; i < len(rec.Ops); {
			addr := rec.Ops[i].Addr
			n := measureLen
			if done[addr] == 0 {
				n += initLen
			}
			if i+n > len(rec.Ops) {
				t.Fatalf("transcript ends inside a read of %#x: %v", addr, rec.Ops[i:])
			}
			for j, op := range rec.Ops[i : i+n] {
				if op.Addr != addr {
					t.Fatalf("transaction %d, of %#x, interleaved with a read of %#x at %d", i+j, op.Addr, addr, i)
				}
			}
			done[addr]++
			turns = append(turns, addr)
			i += n
		}
		if done[low.addr] != reads || done[high.addr] != reads {
			t.Errorf("reads by address %v; want %d each", done, reads)
		}
		// Both sensors asked for turns while the other held one: their
		// turns alternate at least once.
		if slices.IsSorted(turns) || slices.IsSortedFunc(turns, func(a, b uint16) int { return int(b) - int(a) }) {
			t.Errorf("turns %#x: one sensor did all its reads first; want them to alternate", turns)
		}
	})
}
