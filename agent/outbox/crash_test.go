package outbox_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// The crash test: TestCrash runs the test binary again as a child process
// that appends to a store as fast as it can and reports every number whose
// Append returned nil; the parent kills it with SIGKILL at a random moment
// and checks the file. Run more kills with
//
//	go test ./agent/outbox -run '^TestCrash$' -crash.kills=2000
//
// and replay a failure with the seed it logs (-crash.seed).

var (
	crashKills = flag.Int("crash.kills", 200, "SIGKILLs TestCrash deals in total, over its variants")
	crashSeed  = flag.Uint64("crash.seed", 0, "seed of TestCrash's kill moments; 0 picks one from the clock")
)

// The child is told what to do by its environment.
const (
	envCrashChild = "OUTBOX_CRASH_CHILD" // path of the store; set only in a child
	envCrashStart = "OUTBOX_CRASH_START" // the first number it appends
	envCrashMode  = "OUTBOX_CRASH_MODE"  // the name of its crashMode
)

// maxPerAppend is the most records one Append of the child carries.
const maxPerAppend = 4

// crashMode is one variant of the crash test: what the child does.
type crashMode struct {
	name      string
	appenders int  // goroutines appending
	drain     bool // a goroutine calls Next and acks what it gets
	// compact: CompactMinBytes is 1, and each appender waits after its
	// Append until the store has compacted (or 50 ms), so that it compacts
	// again and again and kills land in compactions.
	compact bool
	// memos: each Append is an AppendMemo of one record with a memo, as
	// the RPC dispatcher's answers are, which must be there with it.
	memos bool
}

var crashModes = []crashMode{
	{name: "append", appenders: 4},
	{name: "append+ack", appenders: 4, drain: true},
	{name: "append+ack+compact", appenders: 1, drain: true, compact: true},
	{name: "append-memo+ack", appenders: 4, drain: true, memos: true},
}

func crashModeNamed(name string) (crashMode, bool) {
	for _, m := range crashModes {
		if m.name == name {
			return m, true
		}
	}
	return crashMode{}, false
}

// config is the child's store configuration.
func (m crashMode) config() outbox.Config {
	var cfg outbox.Config
	if m.compact {
		cfg.CompactMinBytes = 1
	}
	return cfg
}

// crashRecord is the record the child appends for number n: even numbers
// go to the control lane, odd ones to telemetry.
func crashRecord(n uint64) outbox.Record {
	r := outbox.Record{
		Lane:    outbox.LaneTelemetry,
		Topic:   "crash/telemetry",
		Key:     []byte("k" + strconv.FormatUint(n, 10)),
		Payload: []byte(strconv.FormatUint(n, 10)),
	}
	if n%2 == 0 {
		r.Lane, r.Topic = outbox.LaneControl, "crash/control"
	}
	return r
}

// crashMemo is the memo the child appends with number n, in the memos
// variant.
func crashMemo(n uint64) outbox.Memo {
	return outbox.Memo{Key: "command-" + strconv.FormatUint(n, 10), Value: []byte("answer to " + strconv.FormatUint(n, 10))}
}

// crashChildMain is the body of the child processes the crash,
// descriptor and compaction tests start: TestMain runs it instead of the
// tests when OUTBOX_CRASH_CHILD names a store, and exits with its code.
func crashChildMain(path string) int {
	switch os.Getenv(envCrashMode) {
	case emfileMode:
		return emfileChild(path) // see TestOpenFailureIsNotTreatedAsGarbage
	case compactLoopMode:
		return compactLoopChild(path) // see TestLockedWhileCompacting
	case cursorCrashMode:
		return cursorCrashChild(path) // see TestCursorCrash
	}
	return crashChild(path)
}

// crashChild appends numbered records to the store at path until it is
// killed, writing "N <n>" to stdout for every number once its Append has
// returned nil; with a drainer, "H <n>" for every number it has been
// handed and is about to ack, and "A <n>" once Ack has returned; with
// compaction, "C <n>" when the store has compacted n times. It returns the
// exit code when something fails.
//
// The "H" line comes before Ack because an ack can become durable (the
// writer commits it) before Ack's caller gets to print anything: a record
// the child was killed acking may be gone though no "A" line says so.
func crashChild(path string) int {
	start, err := strconv.ParseUint(os.Getenv(envCrashStart), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child: start:", err)
		return 3
	}
	mode, ok := crashModeNamed(os.Getenv(envCrashMode))
	if !ok {
		fmt.Fprintf(os.Stderr, "crash child: unknown mode %q\n", os.Getenv(envCrashMode))
		return 3
	}
	// The parent kills the child within a second or so; should the parent
	// die first, do not append forever.
	time.AfterFunc(time.Minute, func() {
		fmt.Fprintln(os.Stderr, "crash child: not killed within a minute")
		os.Exit(4)
	})
	s, err := outbox.Open(path, mode.config())
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 3
	}
	var out crashOutput
	var counter atomic.Uint64
	counter.Store(start)
	fail := make(chan error, 1)
	for g := range mode.appenders {
		go func() {
			rng := rand.New(rand.NewPCG(start, uint64(g)))
			nums := make([]uint64, 0, maxPerAppend)
			for {
				k := 1 + rng.IntN(maxPerAppend)
				if mode.memos {
					k = 1
				}
				first := counter.Add(uint64(k)) - uint64(k)
				recs := make([]outbox.Record, k)
				compactions := s.Stats().Compactions
				nums = nums[:0]
				for i := range recs {
					nums = append(nums, first+uint64(i))
					recs[i] = crashRecord(nums[i])
				}
				var err error
				if mode.memos {
					err = s.AppendMemo(context.Background(), crashMemo(first), recs...)
				} else {
					err = s.Append(context.Background(), recs...)
				}
				if err != nil {
					fail <- err
					return
				}
				out.print('N', nums)
				// With compaction, wait for the one that follows the
				// drainer's ack of these records: appending meanwhile would
				// keep the queue from draining. The wait is bounded, as
				// the store decides when it compacts.
				for deadline := time.Now().Add(50 * time.Millisecond); mode.compact &&
					s.Stats().Compactions == compactions && time.Now().Before(deadline); {
					time.Sleep(100 * time.Microsecond)
				}
			}
		}()
	}
	if mode.drain {
		go func() {
			var nums []uint64
			for {
				es, err := s.Next(context.Background(), 64)
				if err != nil {
					fail <- err
					return
				}
				nums = nums[:0]
				for _, e := range es {
					n, err := strconv.ParseUint(string(e.Payload), 10, 64)
					if err != nil {
						fail <- fmt.Errorf("entry %d: payload %q: %w", e.ID, e.Payload, err)
						return
					}
					nums = append(nums, n)
				}
				out.print('H', nums)
				s.Ack(ids(es)...)
				out.print('A', nums)
			}
		}()
	}
	if mode.compact {
		go out.compactions(s)
	}
	err = <-fail
	fmt.Fprintln(os.Stderr, "crash child:", err)
	return 2
}

// crashOutput writes the child's lines to stdout, one write per call: at
// most 64 short lines, less than PIPE_BUF, so the kill cannot cut a line.
type crashOutput struct {
	mu  sync.Mutex
	buf []byte
}

func (o *crashOutput) print(kind byte, nums []uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = o.buf[:0]
	for _, n := range nums {
		o.buf = append(o.buf, kind, ' ')
		o.buf = strconv.AppendUint(o.buf, n, 10)
		o.buf = append(o.buf, '\n')
	}
	if _, err := os.Stdout.Write(o.buf); err != nil {
		os.Exit(5)
	}
}

// compactions prints a C line for each compaction of s, for ever: the
// child runs until it is killed.
func (o *crashOutput) compactions(s *outbox.Store) {
	var seen uint64
	for {
		if c := s.Stats().Compactions; c != seen {
			seen = c
			o.print('C', []uint64{c})
		}
		time.Sleep(time.Millisecond)
	}
}

// crashRun is what a child reported before it was killed.
type crashRun struct {
	appended    []uint64        // "N": Append returned nil
	acking      map[uint64]bool // "H": handed out, Ack about to be called
	acked       map[uint64]bool // "A": Ack returned
	compactions uint64          // "C": the last count reported
	other       []string        // lines that are none of these
	delay       time.Duration   // from the threshold to the kill
	threshold   int             // numbers printed before the delay began
}

// crashTotals sum up the rounds of a variant.
type crashTotals struct {
	kills, printed, acked, drained, midCompaction int
	// ackedUnseen counts records the child was killed acking whose
	// deletion had committed though Ack had not returned to print "A".
	ackedUnseen int
	compactions uint64
	maxDelay    time.Duration
}

// TestCrash kills a child appending to the store with SIGKILL, again and
// again on the same file, and checks after each kill that every record
// whose Append returned nil is there (unless it was acked), that no record
// fails its checksum, that bbolt's check passes and that the file was not
// moved aside.
func TestCrash(t *testing.T) {
	forEachCrashMode(t, "kills", *crashKills, runCrashMode)
}

// forEachCrashMode runs run, in parallel, for each of crashModes, sharing
// total (kills, cuts: what) between them, each with a seed of its own
// from -crash.seed, or from the clock, which it logs.
func forEachCrashMode(t *testing.T, what string, total int, run func(t *testing.T, m crashMode, n int, seed uint64)) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("%d %s over %d variants; seed %d (replay with -crash.seed=%d)", total, what, len(crashModes), seed, seed)
	for i, m := range crashModes {
		n := total / len(crashModes)
		if i < total%len(crashModes) {
			n++
		}
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			run(t, m, n, seed+uint64(i))
		})
	}
}

// runCrashMode deals kills SIGKILLs to children of mode m on one file.
func runCrashMode(t *testing.T, m crashMode, kills int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x6f7574626f78))
	path := filepath.Join(t.TempDir(), "outbox.db")
	began := time.Now()
	var tot crashTotals
	from := uint64(1)
	for round := range kills {
		run := runCrashChild(t, path, m, from, rng, nil)
		from = checkAfterCrash(t, path, m, round, from, run, &tot)
	}
	t.Logf("%s: %d kills in %v (kill 0-%v after 3-32 numbers); %d numbers printed after Append returned nil, all checked; %d acked by the child, and %d more whose ack committed before the child could print it; %d records drained after the reopens; %d kills left a compaction's temporary file, %d compactions reported",
		m.name, tot.kills, time.Since(began).Round(time.Millisecond), tot.maxDelay.Round(time.Millisecond),
		tot.printed, tot.acked, tot.ackedUnseen, tot.drained, tot.midCompaction, tot.compactions)
}

// runCrashChild starts a child of mode m on path appending from start,
// lets it print a few numbers (and compact once, if it compacts), kills
// it with SIGKILL after a random delay of up to 30 ms, having called
// beforeKill if not nil, and returns what it printed.
func runCrashChild(t *testing.T, path string, m crashMode, start uint64, rng *rand.Rand, beforeKill func()) crashRun {
	t.Helper()
	cmd := exec.Command(childBinary(t))
	cmd.Env = append(os.Environ(),
		envCrashChild+"="+path,
		envCrashStart+"="+strconv.FormatUint(start, 10),
		envCrashMode+"="+m.name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	run := crashRun{acking: make(map[uint64]bool), acked: make(map[uint64]bool), threshold: 3 + rng.IntN(30)}
	ready, eof := make(chan struct{}), make(chan struct{})
	// The delay starts once the child has printed threshold numbers and,
	// when it compacts, has compacted once: the kills are to land in
	// compactions too, and acks may wait a while for appends to commit
	// with.
	armed := false
	arm := func() {
		if !armed && len(run.appended) >= run.threshold && (!m.compact || run.compactions > 0) {
			armed = true
			close(ready)
		}
	}
	go func() { // run is the main goroutine's again once eof is closed
		defer close(eof)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				if line != "" {
					run.other = append(run.other, "cut: "+line)
				}
				return
			}
			kind, num, ok := parseCrashLine(line)
			switch {
			case !ok:
				run.other = append(run.other, line)
			case kind == 'N':
				run.appended = append(run.appended, num)
				arm()
			case kind == 'H':
				run.acking[num] = true
			case kind == 'A':
				run.acked[num] = true
			case kind == 'C':
				run.compactions = num
				arm()
			}
		}
	}()
	reap := func() string {
		<-eof
		werr := cmd.Wait()
		return fmt.Sprintf("wait: %v; stderr:\n%s", werr, stderr.Bytes())
	}
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	select {
	case <-ready:
	case <-eof:
		t.Fatalf("the child ended before it was killed, having printed %d numbers; %s", len(run.appended), reap())
	case <-timeout.C:
		cmd.Process.Kill()
		t.Fatalf("the child did not print %d numbers (and compact) within a minute; %s", run.threshold, reap())
	}
	run.delay = time.Duration(rng.Int64N(int64(30*time.Millisecond) + 1))
	time.Sleep(run.delay) // the random moment of the kill; nothing waits on it
	if beforeKill != nil {
		beforeKill()
	}
	kerr := cmd.Process.Signal(os.Kill)
	status := reap()
	// beforeKill may have made the child's writes fail (the power gone,
	// say): a child that ended on its own with an I/O error is as good.
	ioFailed := beforeKill != nil && bytes.Contains(stderr.Bytes(), []byte("input/output error"))
	if cmd.ProcessState == nil || cmd.ProcessState.Exited() && !ioFailed {
		t.Fatalf("the child was not ended by the SIGKILL (kill: %v); %s", kerr, status)
	}
	return run
}

// parseCrashLine parses a line of the child: "N 12\n".
func parseCrashLine(line string) (kind byte, num uint64, ok bool) {
	if len(line) < 4 || line[1] != ' ' || line[len(line)-1] != '\n' {
		return 0, 0, false
	}
	switch line[0] {
	case 'N', 'H', 'A', 'C':
	default:
		return 0, 0, false
	}
	num, err := strconv.ParseUint(line[2:len(line)-1], 10, 64)
	return line[0], num, err == nil
}

// checkAfterCrash reopens the store after the kill of round and checks it
// against what the child printed; then it acks everything, so the file
// stays small, and closes the store. It returns the number the next child
// starts from.
func checkAfterCrash(t *testing.T, path string, m crashMode, round int, start uint64, run crashRun, tot *crashTotals) uint64 {
	t.Helper()
	where := fmt.Sprintf("kill %d (after %d numbers and %v; child appended from %d)", round+1, run.threshold, run.delay, start)
	if len(run.other) > 0 {
		t.Logf("%s: the child printed %d unexpected lines, first %q", where, len(run.other), run.other[0])
	}
	if _, err := os.Stat(path + ".compact"); err == nil {
		tot.midCompaction++ // Open removes it
	}
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatalf("%s: Open: %v", where, err)
	}
	if aside := movedAside(t, path); len(aside) > 0 {
		s.Close()
		t.Fatalf("%s: Open moved the file aside: %v", where, aside)
	}
	st := s.Stats()
	if st.Quarantined != 0 || st.Dropped != (outbox.DropCounts{}) {
		t.Errorf("%s: after reopening: %d quarantined, dropped %+v; want none", where, st.Quarantined, st.Dropped)
	}
	n := st.Control.Depth + st.Telemetry.Depth
	es := drainExactly(t, s, n, 256, 10*time.Second)
	present := make(map[uint64]bool, len(es))
	last := start - 1
	for _, e := range es {
		num, err := strconv.ParseUint(string(e.Payload), 10, 64)
		if err != nil {
			t.Errorf("%s: entry %d has payload %q, not a number", where, e.ID, e.Payload)
			continue
		}
		if want := crashRecord(num); e.Lane != want.Lane || e.Topic != want.Topic || !bytes.Equal(e.Key, want.Key) {
			t.Errorf("%s: entry %d (payload %d) is %v/%q/key %q, want %v/%q/key %q", where, e.ID, num, e.Lane, e.Topic, e.Key, want.Lane, want.Topic, want.Key)
		}
		if num < start {
			t.Errorf("%s: entry %d holds %d, from before this child: acked and closed, it should be gone", where, e.ID, num)
		}
		if present[num] {
			t.Errorf("%s: %d is stored twice", where, num)
		}
		present[num] = true
		last = max(last, num)
	}
	printed := make(map[uint64]bool, len(run.appended))
	var missing []uint64
	for _, num := range run.appended {
		printed[num] = true
		if !present[num] && !run.acking[num] {
			missing = append(missing, num)
		}
		last = max(last, num)
	}
	if len(missing) > 0 {
		t.Errorf("%s: %d of the %d numbers printed after Append returned nil (and not acked) are not in the store, e.g. %v",
			where, len(missing), len(run.appended), missing[:min(len(missing), 10)])
	}
	for _, num := range run.appended {
		if !m.memos {
			break
		}
		want := crashMemo(num)
		if v, ok, err := s.Memo(want.Key); err != nil || !ok || !bytes.Equal(v, want.Value) {
			t.Errorf("%s: memo %q after its AppendMemo returned: %q, %v, %v; want %q", where, want.Key, v, ok, err, want.Value)
		}
	}
	for num := range run.acked {
		if !run.acking[num] {
			t.Errorf("%s: the child printed A %d without H %d first", where, num, num)
		}
	}
	// The only records neither printed nor handed to Ack are those of the
	// Appends under way at the kill: one per appender.
	unprinted := 0
	for num := range present {
		if !printed[num] && !run.acking[num] {
			unprinted++
		}
	}
	if unprinted > m.appenders*maxPerAppend {
		t.Errorf("%s: %d records in the store were neither printed nor handed to Ack; the Appends under way hold at most %d", where, unprinted, m.appenders*maxPerAppend)
	}
	for num := range run.acking {
		last = max(last, num)
		if !run.acked[num] && !present[num] {
			tot.ackedUnseen++
		}
	}
	s.Ack(ids(es)...)
	if err := s.Close(); err != nil {
		t.Errorf("%s: Close: %v", where, err)
	}
	if q := s.Stats().Quarantined; q != 0 {
		t.Errorf("%s: %d records quarantined after the drain; want 0", where, q)
	}
	checkFile(t, path)
	if t.Failed() {
		t.Fatalf("%s: failed", where)
	}
	tot.kills++
	tot.printed += len(run.appended)
	tot.acked += len(run.acked)
	tot.drained += len(es)
	tot.compactions += run.compactions
	tot.maxDelay = max(tot.maxDelay, run.delay)
	return last + 1
}
