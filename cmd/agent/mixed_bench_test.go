package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
	"github.com/iot-hub/agent/internal/ptytest"
)

// The mixed load of BenchmarkAgentMixedCPU (issue 22): 200 sensors of
// the drivers whose work is the agent's own (file reads, a serial bus, a
// program run), each read once a second, and 50 messages a second from
// devices on its embedded broker, taken as integration events. The sim
// sensor is not among them: it writes and syncs its seq file on every
// read, by design (it is the tests' detector of lost readings), which
// no driver of a real device does.
const (
	mixedThermal = 110 // thermal zones
	mixedProbes  = 60  // ds18b20 sensors, a probe each
	mixedModbus  = 25  // Modbus RTU slaves on one RS-485 line, 19200 baud
	mixedExec    = 5   // exec sensors, a program started each second each
	mixedDevices = 5   // devices publishing on the embedded broker
	mixedRate    = 10  // messages a second each: 50 in all
)

// BenchmarkAgentMixedCPU runs two agents side by side against mosquitto
// for -agent.cpuwindow (a minute): one reading 200 sensors of five types
// once a second and taking 50 messages a second from devices on its
// embedded broker as integration events, the other with no sensor and no
// broker, the baseline. It reports each agent's CPU time as a percentage
// of one core, the load's cost above the baseline, and the reads and
// events that reached the broker per second. Run it with -benchtime 1x.
func BenchmarkAgentMixedCPU(b *testing.B) {
	part := mixParts(b)
	broker := mqtttest.Start(b, mqtttest.Options{})
	dir := b.TempDir()
	zones := filepath.Join(dir, "thermal")
	writeFile(b, filepath.Join(zones, "thermal_zone0", "temp"), "48312\n")
	w1 := filepath.Join(dir, "w1")
	writeFile(b, filepath.Join(w1, "28-0316a2791cff", "w1_slave"), "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n")
	record := filepath.Join(dir, "level.kv")
	writeFile(b, record, "level=0.82\n")

	var list strings.Builder
	for i := range part["thermal"] {
		fmt.Fprintf(&list, "  - {name: zone-%03d, type: thermal, interval: 1s, path: %s}\n", i, zones)
	}
	for i := range part["ds18b20"] {
		fmt.Fprintf(&list, "  - {name: probe-%03d, type: ds18b20, interval: 1s, path: %s}\n", i, w1)
	}
	link := ptytest.NewLink(b) // the RS-485 adapter, the slaves on its line
	line := modbustest.NewLine(b, 19200)
	line.Serve(link.Pair())
	for i := range part["modbus"] {
		slave := uint8(i + 1)
		line.Slave(slave).SetInput(0, 2305, 1520) // 230.5 V, 1520 W
		fmt.Fprintf(&list, "  - {name: meter-%03d, type: modbus-rtu, interval: 1s, port: %s, baud: 19200, slave: %d, registers: [{metric: voltage, function: 4, address: 0, scale: 0.1, unit: V}, {metric: power, function: 4, address: 1, unit: W}]}\n", i, link.Path(), slave)
	}
	for i := range part["exec"] {
		fmt.Fprintf(&list, "  - {name: exec-%03d, type: exec, interval: 1s, format: kv, command: [/bin/cat, %s]}\n", i, record)
	}
	local := freeAddr(b)
	var loaded, idle *agentProc
	asTheUnitRuns(b, func() {
		loaded = startAgentWith(b, writeConfig(b, fmt.Sprintf(`
deviceId: gw-mixed
stateDir: %s
log: {level: info, format: json}
uplink: {mqtt: {broker: %s, embeddedBroker: {enabled: true, listen: %s, integrate: {topics: ["local/#"]}}}}
sensors:
%s`, filepath.Join(dir, "state"), broker.URL(), local, list.String())), profiledEnv(12*time.Second)...)
		idle = startBenchAgent(b, broker, "gw-mixed-idle", "  []\n")
	})

	topics, _ := contracts.DeviceTopics("gw-mixed")
	readings := broker.Subscribe(b, topics.Telemetry, 1)
	defer readings.Close()
	events := broker.Subscribe(b, topics.Events, 1)
	defer events.Close()
	sensors := part["thermal"] + part["ds18b20"] + part["modbus"] + part["exec"]
	waitForReads(b, readings, 2*sensors, 60*time.Second)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan struct{})
	for d := range part["devices"] {
		c := deviceClient(b, local, fmt.Sprintf("device-%d", d))
		go func() {
			defer func() { done <- struct{}{} }()
			tick := time.NewTicker(time.Second / mixedRate)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, _ = c.Publish(pctx, &paho.Publish{Topic: fmt.Sprintf("local/device-%d/power", d), QoS: 1, Payload: fmt.Appendf(nil, `{"w":%d}`, n)})
				cancel()
			}
		}()
	}
	time.Sleep(5 * time.Second) // past the start's work and the first reads' jitter
	readings.Clear()
	events.Clear()

	b.ResetTimer()
	startLoaded, startIdle, start := procCPU(b, loaded), procCPU(b, idle), time.Now()
	time.Sleep(*cpuWindow)
	usedLoaded, usedIdle, window := procCPU(b, loaded)-startLoaded, procCPU(b, idle)-startIdle, time.Since(start)
	nReads, nEvents := countReads(b, readings.Messages()), len(events.Messages())
	b.StopTimer()
	stopProfiled(b, loaded)
	stop()
	for range part["devices"] {
		<-done
	}

	loadedPct, idlePct := 100*usedLoaded.Seconds()/window.Seconds(), 100*usedIdle.Seconds()/window.Seconds()
	b.Run(fmt.Sprintf("%d-sensors-1Hz-%d-local-msgs", sensors, part["devices"]*mixedRate), func(b *testing.B) {
		b.ReportMetric(loadedPct, "cpu-%")
		b.ReportMetric(loadedPct-idlePct, "cpu-%-above-baseline")
		b.ReportMetric(float64(nReads)/window.Seconds(), "reads/s")
		b.ReportMetric(float64(nEvents)/window.Seconds(), "events/s")
	})
	b.Run("baseline-no-sensor", func(b *testing.B) {
		b.ReportMetric(idlePct, "cpu-%")
	})
	if min := int(0.9 * float64(sensors) * window.Seconds()); nReads < min {
		b.Errorf("%d reads in %v; want at least %d", nReads, window, min)
	}
	if min := int(0.9 * float64(part["devices"]*mixedRate) * window.Seconds()); nEvents < min {
		b.Errorf("%d events in %v; want at least %d", nEvents, window, min)
	}
}

// countReads counts the sensors' reads in msgs, device.telemetry events:
// a read's readings share their sensor and instant; a window's reads
// share an event.
func countReads(b testing.TB, msgs []mqtttest.Message) int {
	b.Helper()
	type read struct {
		sensor string
		at     time.Time
	}
	reads := map[read]bool{}
	for _, m := range msgs {
		tm, err := contracts.Decode(m.Payload)
		if err != nil {
			b.Fatalf("telemetry: %v", err)
		}
		for _, r := range tm.(*contracts.DeviceTelemetry).Payload.Readings {
			reads[read{r.Sensor, r.At}] = true
		}
	}
	return len(reads)
}

// waitForReads waits until sub has n reads, for up to timeout.
func waitForReads(b testing.TB, sub *mqtttest.Subscriber, n int, timeout time.Duration) {
	b.Helper()
	for deadline := time.Now().Add(timeout); countReads(b, sub.Messages()) < n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d reads in %v; want %d", countReads(b, sub.Messages()), timeout, n)
		}
	}
}

// mixParts returns how many of each part of the mix -agent.mix names
// the benchmark runs: all of them by default; fewer to see what a part
// costs.
func mixParts(b *testing.B) map[string]int {
	all := map[string]int{"thermal": mixedThermal, "ds18b20": mixedProbes, "modbus": mixedModbus, "exec": mixedExec, "devices": mixedDevices}
	if *mix == "" {
		return all
	}
	out := map[string]int{}
	for name := range strings.SplitSeq(*mix, ",") {
		n, ok := all[name]
		if !ok {
			b.Fatalf("-agent.mix: no part %q; the parts are thermal, ds18b20, modbus, exec, devices", name)
		}
		out[name] = n
	}
	return out
}

var mix = flag.String("agent.mix", "", "the parts of BenchmarkAgentMixedCPU's load to run, comma-separated (thermal, ds18b20, modbus, exec, devices); default all")

// writeFile writes content to path, making its directory.
func writeFile(b testing.TB, path, content string) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}

// deviceClient connects a device to the agent's embedded broker at addr,
// trying for up to 30 s while the agent starts.
func deviceClient(b testing.TB, addr, id string) *paho.Client {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			c := paho.NewClient(paho.ClientConfig{Conn: conn})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
			cancel()
			if err == nil {
				b.Cleanup(func() {
					_ = c.Disconnect(&paho.Disconnect{})
					<-c.Done()
				})
				return c
			}
			conn.Close()
		}
		if time.Now().After(deadline) {
			b.Fatalf("connect to the agent's embedded broker at %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
