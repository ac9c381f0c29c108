package rpc

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/clocktest"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/lograte"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// logLine is one JSON log line, as far as these tests look.
type logLine struct {
	Msg        string `json:"msg"`
	Level      string `json:"level"`
	Reason     string `json:"reason"`
	Code       string `json:"code"`
	Suppressed int    `json:"suppressed"`
}

// logLines returns the lines of logs with message msg.
func logLines(t *testing.T, logs string, msg string) []logLine {
	t.Helper()
	var out []logLine
	for s := range strings.Lines(logs) {
		var l logLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("log line %q: %v", s, err)
		}
		if l.Msg == msg {
			out = append(out, l)
		}
	}
	return out
}

// A flood of bad commands: every one gets its dead letter (and its
// answer when it can be answered), but each reason writes one line a
// minute, and the next line says how many it suppressed.
func TestFloodIsLoggedOnceAMinute(t *testing.T) {
	const n = 5000
	var logs syncbuf.Buffer
	clock := clocktest.New(time.Now())
	r := newRig(t, Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Clock: clock})

	garbage := []byte("this is not JSON")
	wrongDevice := func() []byte {
		b, _ := command(t, contracts.MethodGetDeviceState, "", replace(t, `"deviceId":"gw-test"`, `"deviceId":"gw-other"`))
		return b
	}
	flood := func(count int) {
		var acked sync.WaitGroup
		for range count {
			for _, payload := range [][]byte{garbage, wrongDevice()} {
				acked.Add(1)
				req := request(payload)
				var once sync.Once
				req.Ack = func() { once.Do(acked.Done) }
				r.d.Handle(req)
			}
		}
		acked.Wait()
	}
	// outcomes counts the dead letters by reason and the answers by code
	// put in the outbox.
	outcomes := func() map[string]int {
		got := map[string]int{}
		for _, e := range r.drain() {
			m, err := contracts.Decode(e.Payload)
			if err != nil {
				t.Fatalf("the dispatcher put an invalid message in the outbox: %v\n%s", err, e.Payload)
			}
			switch m := m.(type) {
			case *contracts.SystemDLQ:
				got["dead letter "+m.Payload.Reason]++
			case *contracts.DeviceResponseRPC:
				got["answer "+m.Error.Code]++
			}
		}
		return got
	}
	check := func(when string, wantLetters int, wantLines []logLine) {
		t.Helper()
		got := outcomes()
		for _, k := range []string{"dead letter " + contracts.DLQMalformed, "dead letter " + contracts.DLQWrongDevice, "answer " + contracts.CodeWrongDevice} {
			if got[k] != wantLetters {
				t.Errorf("%s: %d × %s in the outbox; want %d: every command gets its own", when, got[k], k, wantLetters)
			}
		}
		var lines []logLine
		lines = append(lines, logLines(t, logs.String(), "rpc: dead letter")...)
		lines = append(lines, logLines(t, logs.String(), "rpc: answered with an error")...)
		if len(lines) != len(wantLines) {
			t.Fatalf("%s: %d lines:\n%v\nwant %d:\n%v", when, len(lines), lines, len(wantLines), wantLines)
		}
		for i := range lines {
			if lines[i] != wantLines[i] {
				t.Errorf("%s: line %d is %+v; want %+v", when, i, lines[i], wantLines[i])
			}
		}
	}

	flood(n)
	letter := logLine{Msg: "rpc: dead letter", Level: "WARN", Reason: contracts.DLQMalformed}
	answer := logLine{Msg: "rpc: answered with an error", Level: "WARN", Code: contracts.CodeWrongDevice}
	check("within the minute", n, []logLine{letter, answer})

	clock.Advance(lograte.DefaultInterval - time.Millisecond)
	flood(1)
	check("just before the minute is over", 1, []logLine{letter, answer})

	clock.Advance(time.Millisecond)
	flood(1)
	letterAgain, answerAgain := letter, answer
	letterAgain.Suppressed, answerAgain.Suppressed = n, n // the flood's but the first, and the one just before
	check("a minute later", 1, []logLine{letter, letterAgain, answer, answerAgain})
}

// Answers given write up to answerBurst lines a minute per method.
func TestAnswersAreLoggedTenAMinute(t *testing.T) {
	var logs syncbuf.Buffer
	clock := clocktest.New(time.Now())
	r := newRig(t, Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Clock: clock})
	const n = 2*answerBurst + 1
	for range n {
		payload, _ := command(t, contracts.MethodGetDeviceState, "", nil)
		if o := r.call(payload); o.answer == nil || o.answer.Status != contracts.StatusSuccess {
			t.Fatalf("got %v; want a successful answer", o)
		}
	}
	if lines := logLines(t, logs.String(), "rpc: answered"); len(lines) != answerBurst {
		t.Fatalf("%d answers: %d lines; want %d", n, len(lines), answerBurst)
	}
	clock.Advance(lograte.DefaultInterval)
	payload, _ := command(t, contracts.MethodGetDeviceState, "", nil)
	r.call(payload)
	lines := logLines(t, logs.String(), "rpc: answered")
	if len(lines) != answerBurst+1 || lines[answerBurst].Suppressed != n-answerBurst {
		t.Errorf("a minute later: lines %+v; want %d, the last with suppressed %d", lines, answerBurst+1, n-answerBurst)
	}
}
