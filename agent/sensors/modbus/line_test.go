package modbus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
)

// TestSilentSlaveTakesTurns: a slave that never answers costs the other
// slave of its line one response timeout per attempt, not a whole read:
// each of its attempts is a turn of its own on the port.
func TestSilentSlaveTakesTurns(t *testing.T) {
	r := newRig(t, 19200)
	r.line.Slave(1).SetSilent(true)
	r.line.Slave(2).SetHolding(0, 42)
	silent := r.sensor(t, modbus.Config{Name: "silent", Settings: modbus.Settings{Slave: 1, Retries: new(3), Registers: []modbus.Register{
		{Metric: "m", Function: modbus.HoldingRegisters, Address: 0, Type: modbus.Uint16},
	}}})
	alive := r.sensor(t, modbus.Config{Name: "alive", Settings: modbus.Settings{Slave: 2, Registers: []modbus.Register{
		{Metric: "m", Function: modbus.HoldingRegisters, Address: 0, Type: modbus.Uint16},
	}}})

	// alive reads again and again while silent makes its attempts.
	firstSilent := make(chan struct{})
	var once sync.Once
	r.line.OnRequest(func(q modbustest.Request) {
		if q.Slave == 1 {
			once.Do(func() { close(firstSilent) })
		}
	})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		<-firstSilent
		for ctx.Err() == nil {
			rs, err := alive.Read(ctx)
			if err != nil && ctx.Err() == nil || err == nil && rs[0].Value != 42 {
				t.Errorf("alive Read = %v, %v; want 42", rs, err)
			}
		}
	})
	_, err := silent.Read(context.Background())
	stop()
	wg.Wait()
	if !errors.Is(err, modbus.ErrTimeout) || !strings.Contains(err.Error(), "attempt 4 of 4") {
		t.Errorf("silent Read = %v; want ErrTimeout after 4 attempts", err)
	}

	// Between two attempts of the silent slave, the other got its turn:
	// it waited one response timeout at a time, never two.
	var order strings.Builder
	for _, q := range r.line.Requests() {
		fmt.Fprint(&order, q.Slave)
	}
	if got := order.String(); strings.Count(got, "1") != 4 || !strings.HasPrefix(got, "12") || strings.Contains(got, "11") {
		t.Errorf("slaves of the requests in order: %s; want four 1s, each but the last followed by 2s", got)
	}
}

// TestConcurrentSensorsShareTheLine: sensors of several slaves read at
// once through one port; the line fails the test if two requests ever
// overlap or follow each other closer than t3.5.
func TestConcurrentSensorsShareTheLine(t *testing.T) {
	const slaves, reads = 4, 10
	r := newRig(t, 9600)
	var sens []*modbus.Sensor
	for id := uint8(1); id <= slaves; id++ {
		r.line.Slave(id).SetInput(0, uint16(id)*100, uint16(id))
		r.line.Slave(id).SetHolding(50, uint16(id))
		sens = append(sens, r.sensor(t, modbus.Config{Name: fmt.Sprint("s", id), Settings: modbus.Settings{Slave: id, Registers: []modbus.Register{
			{Metric: "a", Function: modbus.InputRegisters, Address: 0, Type: modbus.Uint16},
			{Metric: "b", Function: modbus.InputRegisters, Address: 1, Type: modbus.Uint16},
			{Metric: "c", Function: modbus.HoldingRegisters, Address: 50, Type: modbus.Uint16},
		}}}))
	}
	var wg sync.WaitGroup
	for i, s := range sens {
		id := float64(i + 1)
		wg.Go(func() {
			for range reads {
				rs, err := s.Read(context.Background())
				if err != nil || rs[0].Value != id*100 || rs[1].Value != id || rs[2].Value != id {
					t.Errorf("%s Read = %v, %v; want %v, %v, %v", s.Name(), rs, err, id*100, id, id)
				}
			}
		})
	}
	wg.Wait()
	perSlave := map[uint8]int{}
	for _, q := range r.line.Requests() {
		if q.Answer != modbustest.AnswerRegisters {
			t.Errorf("request %v; want it answered", q)
		}
		perSlave[q.Slave]++
	}
	for id := uint8(1); id <= slaves; id++ {
		if perSlave[id] != 2*reads {
			t.Errorf("slave %d got %d requests; want %d (two a read, no retry)", id, perSlave[id], 2*reads)
		}
	}
}

// TestInterFrameGap: at 1200 baud t3.5 is 32 ms, longer than the
// driver's turnaround; the line fails the test if a request comes
// sooner after the previous frame, whichever slave that was for.
func TestInterFrameGap(t *testing.T) {
	r := newRig(t, 1200)
	r.line.Slave(1).SetHolding(0, 1)
	r.line.Slave(2).SetHolding(0, 2)
	reg := []modbus.Register{{Metric: "m", Function: modbus.HoldingRegisters, Address: 0, Type: modbus.Uint16}}
	a := r.sensor(t, modbus.Config{Name: "a", Settings: modbus.Settings{Slave: 1, Registers: reg}})
	b := r.sensor(t, modbus.Config{Name: "b", Settings: modbus.Settings{Slave: 2, Registers: reg}})
	for range 3 {
		read(t, a)
		read(t, b)
	}
	if n := len(r.line.Requests()); n != 6 {
		t.Errorf("%d requests; want 6", n)
	}
}

// TestReadEndsWithContext: a read waiting for a silent slave returns
// when its context ends, without another attempt.
func TestReadEndsWithContext(t *testing.T) {
	r := newRig(t, 19200)
	r.line.Slave(4).SetSilent(true)
	sen := r.sensor(t, modbus.Config{Settings: modbus.Settings{Slave: 4, ResponseTimeout: modbus.MaxTimeout, Registers: []modbus.Register{
		{Metric: "m", Function: modbus.InputRegisters, Address: 0, Type: modbus.Int16},
	}}})
	ctx, cancel := context.WithCancel(context.Background())
	r.line.OnRequest(func(modbustest.Request) { cancel() })
	_, err := sen.Read(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read = %v; want %v", err, context.Canceled)
	}
	if n := len(r.line.Requests()); n != 1 {
		t.Errorf("%d requests; want 1", n)
	}
}
