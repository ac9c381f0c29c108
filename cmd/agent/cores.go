package main

import (
	"os"
	"runtime"
)

// runOnOneCore has the agent run its Go code on one core at a time
// (GOMAXPROCS=1), unless GOMAXPROCS in its environment says otherwise.
//
// The agent's work is waiting: for sensors, devices, the broker, the
// disk. With more Ps, a goroutine woken on one thread is often run on
// another, woken for it, and a third spins looking for work: on a
// gateway's small CPU each of those thread switches costs more than the
// work (BenchmarkAgentMixedCPU: 200 sensors and 50 device messages a
// second took 2.4% of a core with two Ps, 2.1% with one; thread switches
// 540 → 320 a second). It also leaves the other cores to the gateway's
// applications. Draining a large backlog is then bound by one core; give
// the agent more with GOMAXPROCS (a systemd drop-in:
// Environment=GOMAXPROCS=4).
func runOnOneCore() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
