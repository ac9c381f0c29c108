package rpc

import "github.com/iot-hub/agent/internal/lograte"

// The dispatcher's lines come at the pace of the commands, which someone
// outside sends: each kind is limited (internal/lograte), so that a flood
// of garbage gives a line a minute, not a line per message, while each
// message still gets its answer or dead letter.
//
// A problem (a dead letter, an error answer, a command that could not be
// answered) writes one line a minute per kind: the reason, the code, the
// method. Answers given write up to answerBurst lines a minute per method
// or event type, which a backend's usual pace stays within.
const answerBurst = 10

// lines are the dispatcher's limited loggers.
type lines struct {
	problems *lograte.Logger // keyed by kind: "dead letter malformed", "error answer BUSY"
	answers  *lograte.Logger // keyed by method or event type
}

func newLines(cfg Config) lines {
	return lines{
		problems: lograte.New(cfg.Logger, lograte.Config{Clock: cfg.Clock}),
		answers:  lograte.New(cfg.Logger, lograte.Config{Burst: answerBurst, Clock: cfg.Clock}),
	}
}
