package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/contracts"
)

// TestKafkaCommandsSurviveKill sends a stream of commands to the agent's
// partition of device.commands and kills the agent (SIGKILL) in the
// middle of it, right after an answer arrives, then starts it again on
// the same state directory. Every command is answered on
// device.responses. The offsets are stored at most once a second, so the
// restarted agent reads again commands it had answered: those are
// answered from the memo of their answer, the same bytes again, not run
// again (without the memos, about 40 run twice). Only a command whose
// answer was not committed when the process died may run again: the
// outbox hands an answer to the uplink while its commit syncs, so the
// answer that had just arrived may be one. At most 2 are allowed.
func TestKafkaCommandsSurviveKill(t *testing.T) {
	brokers := newKafkaCluster(t)
	const id = "e2e-kafka-kill"
	config := kafkaConfig(t, id, brokers)
	first := startAgent(t, config)

	answers := collectAnswers(t, brokers)
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	send := func() string {
		cid, rec := kafkaCommand(id)
		if err := prod.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Errorf("produce a command: %v", err)
		}
		return cid
	}

	// The agent reads its partition from the end at its first start: a
	// command answered shows it is reading, and its offset is stored.
	for deadline := time.Now().Add(60 * time.Second); ; {
		if cid := send(); answers.waitFor([]string{cid}, time.Second) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no command answered within 60 s of the agent's start")
		}
	}

	const n = 150
	sent := make(chan []string, 1)
	go func() {
		var cids []string
		for range n {
			cids = append(cids, send())
			time.Sleep(10 * time.Millisecond)
		}
		sent <- cids
	}()
	answers.waitCount(t, 40, 30*time.Second)
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.waitExit(t, 10*time.Second, "the agent did not die of SIGKILL")
	before := answers.count()
	second := startAgent(t, config)
	cids := <-sent
	if !answers.waitFor(cids, 60*time.Second) {
		t.Fatalf("%d of %d commands not answered within 60 s of the restart (%d answered before the kill)",
			len(answers.missing(cids)), n, before)
	}

	twice := answers.ranTwice(cids)
	again := strings.Count(second.stderr.String(), "rpc: answered again")
	t.Logf("%d of %d commands answered before the kill; %d delivered again and answered from their memo; %d run twice",
		before, n, again, len(twice))
	if again == 0 {
		// The offsets are stored at most once a second, and the kill
		// comes about half a second into the burst: commands answered
		// before it are read again, and must be answered from the memo.
		t.Errorf("no command was read again after the restart: the test did not reach the RPC memo")
	}
	if len(twice) > 2 {
		t.Errorf("%d commands answered twice with different answers (run again): %v; want at most the 2 in hand at the kill", len(twice), twice)
	}
	if code := second.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
}

// answerLog collects the answers on device.responses by correlationId.
type answerLog struct {
	mu   sync.Mutex
	got  map[string][]string // distinct record values by correlationId
	more chan struct{}       // closed and replaced on every answer
}

// collectAnswers reads device.responses from its start until the test
// ends.
func collectAnswers(t *testing.T, brokers []string) *answerLog {
	cl := consume(t, brokers, contracts.TopicDeviceResponses)
	a := &answerLog{got: make(map[string][]string), more: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, r := range cl.PollFetches(ctx).Records() {
				a.add(r)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
	return a
}

func (a *answerLog) add(r *kgo.Record) {
	var cid string
	for _, h := range r.Headers {
		if h.Key == contracts.HeaderCorrelationID {
			cid = string(h.Value)
		}
	}
	if cid == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.Contains(a.got[cid], string(r.Value)) {
		a.got[cid] = append(a.got[cid], string(r.Value))
	}
	close(a.more)
	a.more = make(chan struct{})
}

// waitFor reports whether every one of cids is answered within within.
func (a *answerLog) waitFor(cids []string, within time.Duration) bool {
	return a.wait(within, func() bool { return len(a.missingLocked(cids)) == 0 })
}

// waitCount waits up to within for n commands answered, failing the
// test; it returns as soon as the answer that makes n arrives.
func (a *answerLog) waitCount(t *testing.T, n int, within time.Duration) {
	t.Helper()
	if !a.wait(within, func() bool { return len(a.got) >= n }) {
		t.Fatalf("%d commands answered within %v; want %d", a.count(), within, n)
	}
}

// wait reports whether done, called with a.mu held, holds within within,
// trying it again on every answer.
func (a *answerLog) wait(within time.Duration, done func() bool) bool {
	timeout := time.After(within)
	for {
		a.mu.Lock()
		ok, more := done(), a.more
		a.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-more:
		case <-timeout:
			return false
		}
	}
}

func (a *answerLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got)
}

func (a *answerLog) missing(cids []string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.missingLocked(cids)
}

func (a *answerLog) missingLocked(cids []string) []string {
	var out []string
	for _, c := range cids {
		if len(a.got[c]) == 0 {
			out = append(out, c)
		}
	}
	return out
}

// ranTwice returns the commands of cids answered with two different
// answers: an answer given again from its memo is the same bytes.
func (a *answerLog) ranTwice(cids []string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, c := range cids {
		if len(a.got[c]) > 1 {
			out = append(out, c)
		}
	}
	return out
}

// kafkaCommand returns a getDeviceState command for device id as the
// backend produces it on device.commands, keyed by the id, with the
// contracts' headers, and its correlationId.
func kafkaCommand(id string) (string, *kgo.Record) {
	cid, body := rpcCommand(id, "getDeviceState", "", nil)
	return cid, &kgo.Record{Topic: contracts.TopicDeviceCommands, Key: []byte(id), Value: body, Headers: []kgo.RecordHeader{
		{Key: contracts.HeaderEventType, Value: []byte(contracts.TypeDeviceCommandRPC)},
		{Key: contracts.HeaderCorrelationID, Value: []byte(cid)},
		{Key: contracts.HeaderVersion, Value: []byte(contracts.Version)},
	}}
}
