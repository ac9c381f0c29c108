package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// options are the command line's.
type options struct {
	n         int
	interval  time.Duration
	warmup    time.Duration
	outage    time.Duration
	watch     time.Duration
	dir       string
	mosquitto string
	kafkaIdle time.Duration
	kafkaN    int
	kafkaRun  time.Duration
	check     bool
	verbose   bool
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 1000, "gateways")
	flag.DurationVar(&o.interval, "interval", 5*time.Second, "each gateway's reading interval")
	flag.DurationVar(&o.warmup, "warmup", 10*time.Second, "how long the fleet runs, every gateway connected, before the broker is killed")
	flag.DurationVar(&o.outage, "outage", 60*time.Second, "how long the broker stays dead")
	flag.DurationVar(&o.watch, "watch", 30*time.Second, "how long the fleet is watched after the broker's return")
	flag.StringVar(&o.dir, "dir", "", "the gateways' state directories and the broker's files (default: a new temporary directory, removed after)")
	flag.StringVar(&o.mosquitto, "mosquitto", "mosquitto", "the mosquitto binary")
	flag.DurationVar(&o.kafkaIdle, "kafka-idle", 20*time.Second, "how long one Kafka gateway is watched idle (0: not at all)")
	flag.IntVar(&o.kafkaN, "kafka-gateways", 200, "gateways run against kfake with the Kafka uplink (0: none)")
	flag.DurationVar(&o.kafkaRun, "kafka-run", 20*time.Second, "how long the Kafka gateways read their sensors")
	flag.BoolVar(&o.check, "check", false, "exit 1 when a target is missed, not only when a reading is lost")
	flag.BoolVar(&o.verbose, "verbose-broker", false, "mosquitto logs every packet (with -dir, to look into a lost reading)")
	flag.Parse()
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// errTargets: the run went through and a target was missed (-check) or
// a reading was lost.
var errTargets = errors.New("targets missed; see the table")

// run runs the scenario of the package documentation and prints its
// table to w.
func run(o options, w io.Writer) error {
	if o.n < 1 || o.interval <= 0 || o.outage <= 0 || o.watch <= 0 {
		return errors.New("-n, -interval, -outage and -watch must be positive")
	}
	raiseFileLimit()
	bin, err := exec.LookPath(o.mosquitto)
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, serr := os.Stat(p); serr == nil && o.mosquitto == "mosquitto" {
				bin, err = p, nil
				break
			}
		}
		if err != nil {
			return fmt.Errorf("mosquitto: %w (apt-get install mosquitto)", err)
		}
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "fleet-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	b, err := startBroker(bin, dir, o.verbose)
	if err != nil {
		return err
	}
	defer b.stop(syscall.SIGTERM)
	l := newLedger()
	v, err := startVerifier(b.url(), l)
	if err != nil {
		return err
	}
	defer v.stop()

	fmt.Fprintf(w, "fleet: %d gateways, a reading every %v each, against mosquitto on %s\n", o.n, o.interval, b.addr())
	gws := make([]*gateway, o.n)
	for i := range gws {
		if gws[i], err = newGateway(i+1, dir, b.url(), o.interval, l); err != nil {
			return err
		}
		defer gws[i].box.Close()
	}
	uplinks, stopUplinks := context.WithCancel(context.Background())
	sampling, stopSampling := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stopSampling(); stopUplinks(); wg.Wait() }()
	start := time.Now()
	for _, g := range gws {
		wg.Go(func() { _ = g.up.Run(uplinks) })
		wg.Go(func() { _ = g.sampler.Run(sampling) })
	}
	if _, ok := awaitConnected(gws, start, 1.0, time.Minute+time.Duration(o.n)*10*time.Millisecond); !ok {
		return fmt.Errorf("not every gateway connected within a minute of the start")
	}
	fmt.Fprintf(w, "fleet: all connected %.1f s after the start; running %v more\n", time.Since(start).Seconds(), o.warmup)
	time.Sleep(max(o.warmup, 2*time.Second)) // mosquitto saves the verifier's session every second

	b.kill()
	killed := time.Now()
	fmt.Fprintf(w, "fleet: mosquitto killed (SIGKILL); back in %v\n", o.outage)
	time.Sleep(o.outage)
	back := time.Now() // no gateway connects before mosquitto starts
	if err := b.start(); err != nil {
		return err
	}
	cpuBack := b.runningCPU()
	at99, ok99 := awaitConnected(gws, back, 0.99, o.watch)
	at100, all := awaitConnected(gws, back, 1.0, o.watch-min(at99, o.watch))
	if rest := o.watch - time.Since(back); rest > 0 {
		time.Sleep(rest)
	}
	cpuWatch := b.runningCPU() - cpuBack

	stopSampling()
	drainedIn, drained := awaitDrained(gws, l, killed, time.Minute)
	accepts, err := b.acceptsPerSecond(back)
	if err != nil {
		return err
	}
	t := l.count(killed)
	kc, kerr := kafkaCost(o.kafkaIdle)
	var kf kafkaFleetResult
	var kferr error
	if o.kafkaN > 0 {
		kf, kferr = kafkaFleet(o.kafkaN, dir, o.interval, o.kafkaRun)
	}

	r := report{
		o: o, killed: killed, back: back, at99: at99, ok99: ok99, at100: at100, all: all,
		accepts: accepts, cpuWatch: cpuWatch, tally: t, drained: drained, drainedIn: drainedIn,
		kafka: kc, kafkaErr: kerr, kafkaFleet: kf, kafkaFleetErr: kferr,
	}
	r.print(w)
	if !drained || t.lostByAgent > 0 {
		diagnose(w, gws, l)
	}
	if t.lostByAgent > 0 || !drained || kferr != nil || kf.lost > 0 || o.check && !r.targetsMet() {
		return errTargets
	}
	return nil
}

// awaitConnected waits until share of the gateways have connected after
// since, or for at most limit; it returns the time from since until they
// had, and whether they did.
func awaitConnected(gws []*gateway, since time.Time, share float64, limit time.Duration) (time.Duration, bool) {
	need := int(float64(len(gws))*share + 0.999999)
	deadline := time.Now().Add(limit)
	for {
		var firsts []time.Time
		for _, g := range gws {
			if c := g.firstConnectAfter(since); !c.IsZero() {
				firsts = append(firsts, c)
			}
		}
		if len(firsts) >= need {
			slices.SortFunc(firsts, func(a, b time.Time) int { return a.Compare(b) })
			return firsts[need-1].Sub(since), true
		}
		if time.Now().After(deadline) {
			return time.Since(since), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitDrained waits, for at most limit, until every gateway's outbox
// has no telemetry left and the verifier has every reading but those
// mosquitto acknowledged before it was killed (which it may have lost),
// then a second more for those; it returns how long that took and
// whether it happened.
func awaitDrained(gws []*gateway, l *ledger, killed time.Time, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit {
		done := l.waiting(killed) == 0
		for _, g := range gws {
			done = done && g.drained()
		}
		if done {
			took := time.Since(start)
			time.Sleep(time.Second)
			return took, true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), false
}

// raiseFileLimit raises the soft limit of open files to the hard one:
// each gateway holds its outbox's file and a connection, and mosquitto,
// which inherits the limit, a connection per gateway.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// diagnose prints, for the gateways with readings the verifier did not
// receive, what their uplinks and outboxes say.
func diagnose(w io.Writer, gws []*gateway, l *ledger) {
	missing := l.missingBy()
	fmt.Fprintf(w, "\n%d gateways have readings the verifier did not receive:\n", len(missing))
	shown := 0
	for _, g := range gws {
		n, ok := missing[g.id]
		if !ok {
			continue
		}
		st := g.up.State()
		bs := g.box.Stats()
		fmt.Fprintf(w, "  %s: %d missing; uplink connected %v since %s, reconnects %d; outbox telemetry depth %d, control %d\n",
			g.id, n, st.Connected, st.Since.Format(time.TimeOnly), st.Reconnects, bs.Telemetry.Depth, bs.Control.Depth)
		if shown++; shown == 10 {
			break
		}
	}
}
