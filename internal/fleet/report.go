package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Targets of issue 21, at any N.
const (
	targetReconnect = 15 * time.Second // 99% connected again within it of the broker's return
	targetRateShare = 5                // at most N/5 connection attempts in a second
)

// report is a run's figures.
type report struct {
	o             options
	killed, back  time.Time
	at99, at100   time.Duration // from the return until 99%, all, connected
	ok99, all     bool          // 99%, every gateway, connected within the watch
	accepts       []int         // connections mosquitto accepted, by second from its return
	cpuWatch      time.Duration // mosquitto's CPU during the watch
	tally         tally
	drained       bool
	drainedIn     time.Duration
	kafka         kafkaCosts
	kafkaErr      error
	kafkaFleet    kafkaFleetResult
	kafkaFleetErr error
}

// peak is the most connections mosquitto accepted in one second, and
// that second's index.
func (r report) peak() (int, int) {
	if len(r.accepts) == 0 {
		return 0, 0
	}
	m := slices.Max(r.accepts)
	return m, slices.Index(r.accepts, m)
}

// targetsMet reports whether the reconnect and rate targets hold.
func (r report) targetsMet() bool {
	peak, _ := r.peak()
	return r.ok99 && r.at99 <= targetReconnect && peak*targetRateShare <= r.o.n
}

func (r report) print(w io.Writer) {
	n := r.o.n
	peak, at := r.peak()
	t := r.tally
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Fprintf(w, "\n| what | measured | target |\n|---|---|---|\n")
	fmt.Fprintf(w, "| gateways | %d, a reading every %v, broker dead %v | |\n", n, r.o.interval, r.o.outage)
	fmt.Fprintf(w, "| connections mosquitto accepted, peak second | %d/s, %d s after its return (%.1f%% of N) | at most N/%d = %d/s: %s |\n",
		peak, at, 100*float64(peak)/float64(n), targetRateShare, n/targetRateShare, verdict(peak*targetRateShare <= n))
	fmt.Fprintf(w, "| connections accepted in the first %d s, by second | %v | |\n", len(r.accepts), r.accepts)
	at99 := fmt.Sprintf("%.1f s after the return", r.at99.Seconds())
	if !r.ok99 {
		at99 = fmt.Sprintf("not within %v", r.o.watch)
	}
	fmt.Fprintf(w, "| 99%% of gateways connected again | %s | within %v: %s |\n", at99, targetReconnect, verdict(r.ok99 && r.at99 <= targetReconnect))
	allText := fmt.Sprintf("%.1f s after the return", r.at100.Seconds())
	if !r.all {
		allText = fmt.Sprintf("not within %v", r.o.watch)
	}
	fmt.Fprintf(w, "| every gateway connected again | %s | |\n", allText)
	fmt.Fprintf(w, "| readings stored by the samplers | %d | |\n", t.sampled)
	fmt.Fprintf(w, "| readings lost by the agent | %d | 0: %s |\n", t.lostByAgent, verdict(t.lostByAgent == 0))
	fmt.Fprintf(w, "| readings lost by mosquitto (acknowledged to the gateway before SIGKILL, never delivered) | %d | |\n", t.lostByBroker)
	fmt.Fprintf(w, "| duplicates received | %d (%.2f%% of the readings) | |\n", t.duplicates, 100*float64(t.duplicates)/float64(max(t.sampled, 1)))
	drain := fmt.Sprintf("%.1f s after the sensors stopped", r.drainedIn.Seconds())
	if !r.drained {
		drain = fmt.Sprintf("NOT within %.0f s", r.drainedIn.Seconds())
	}
	fmt.Fprintf(w, "| every outbox drained, every reading received | %s | |\n", drain)
	fmt.Fprintf(w, "| mosquitto's CPU in the %v after its return | %.2f s (%.0f%% of a core) | |\n", r.o.watch, r.cpuWatch.Seconds(), 100*r.cpuWatch.Seconds()/r.o.watch.Seconds())
	if t.foreign > 0 {
		fmt.Fprintf(w, "| readings received that no sampler stored | %d | 0 |\n", t.foreign)
	}
	switch {
	case r.kafkaErr != nil:
		fmt.Fprintf(w, "\nKafka: %v\n", r.kafkaErr)
	case r.kafka.idle > 0:
		k := r.kafka
		fmt.Fprintf(w, "\nOne gateway's Kafka uplink, idle for %v, against %d brokers (kfake):\n\n| what | one gateway | %d gateways |\n|---|---|---|\n", k.idle, k.brokers, n)
		fmt.Fprintf(w, "| connections open | %d | %d |\n", k.connections, k.connections*n)
		kinds := make([]string, 0, len(k.perSecond))
		for kind := range k.perSecond {
			kinds = append(kinds, kind)
		}
		slices.Sort(kinds)
		for _, kind := range kinds {
			fmt.Fprintf(w, "| %s requests/s | %.2f | %.0f |\n", kind, k.perSecond[kind], k.perSecond[kind]*float64(n))
		}
		fmt.Fprintf(w, "| requests/s, all | %.2f | %.0f |\n", k.total(), k.total()*float64(n))
	}
	switch kf := r.kafkaFleet; {
	case r.kafkaFleetErr != nil:
		fmt.Fprintf(w, "\nKafka gateways: %v\n", r.kafkaFleetErr)
	case kf.gateways > 0:
		fmt.Fprintf(w, "\n%d gateways on the Kafka uplink against %d brokers (kfake), a reading every %v each, for %.0f s:\n\n| what | measured |\n|---|---|\n", kf.gateways, kf.brokers, r.o.interval, kf.ran.Seconds())
		fmt.Fprintf(w, "| connections open to the brokers | %d (%.1f a gateway) |\n", kf.connections, float64(kf.connections)/float64(kf.gateways))
		fmt.Fprintf(w, "| fetch requests a second | %.0f (%.2f a gateway) |\n", kf.fetches, kf.fetches/float64(kf.gateways))
		fmt.Fprintf(w, "| produce requests a second | %.0f (%.2f a gateway) |\n", kf.produces, kf.produces/float64(kf.gateways))
		fmt.Fprintf(w, "| readings stored, read back from the topic | %d, %d |\n", kf.sampled, kf.delivered)
		fmt.Fprintf(w, "| readings lost | %d | \n| duplicates | %d |\n", kf.lost, kf.duplicates)
	}
}
