package main

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// task is one of the agent's goroutines: a component running until its
// context ends. runAgent starts each with startTask and stops each with
// stop, which waits for it; none is left running unwaited.
type task struct {
	name   string
	cancel context.CancelFunc
	done   chan error // Run's error, once
}

// startTask runs run on a goroutine of its own, under a context that
// stop ends. name says what it is in the log ("the uplink").
func startTask(name string, run func(context.Context) error) *task {
	ctx, cancel := context.WithCancel(context.Background())
	t := &task{name: name, cancel: cancel, done: make(chan error, 1)}
	go func() { t.done <- run(ctx) }()
	return t
}

// waitTask runs f, which ends by itself, as a task: stop waits for it.
func waitTask(name string, f func()) *task {
	return startTask(name, func(context.Context) error { f(); return nil })
}

// stop ends t's context and waits up to timeout for it to return,
// logging its error. A second SIGTERM or SIGINT on sigs meanwhile exits
// the process at once (the outbox is safe against that). It reports
// whether t stopped in time. A nil task has stopped.
func (t *task) stop(timeout time.Duration, sigs <-chan os.Signal, log *slog.Logger) bool {
	if t == nil {
		return true
	}
	t.cancel()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case err := <-t.done:
			if err != nil {
				log.Error("agent: stopping "+t.name, "err", err)
			}
			return true
		case <-timer.C:
			log.Error("agent: "+t.name+" did not stop in time; going on", "timeout", timeout)
			return false
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				continue
			}
			log.Warn("agent: second signal; exiting now (the outbox keeps what was not sent)", "signal", sig.String())
			os.Exit(exitError)
		}
	}
}

// ended is t's channel of its error, which receives when t returns by
// itself; nil for a nil task, which never does.
func (t *task) ended() <-chan error {
	if t == nil {
		return nil
	}
	return t.done
}
