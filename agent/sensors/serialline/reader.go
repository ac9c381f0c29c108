package serialline

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/backoff"
)

// chunk bounds one transaction of the reader: it gives the port back at
// least this often, so that a lost port is reopened by the next one.
const chunk = time.Second

// retryWait is the wait after an error the port does not time itself.
const retryWait = time.Second

// run reads the port until ctx ends or the port is closed, one
// transaction per chunk.
func (s *Sensor) run(ctx context.Context) {
	defer close(s.done)
	sp := splitter{max: int(s.cfg.MaxLineBytes)}
	buf := make([]byte, 256)
	var gen uint64
	line := func(l []byte) {
		rs, why := decode(s.cfg.Format, l, s.cfg.Units)
		if why != 0 {
			s.skipLine(why, l)
			return
		}
		s.record(rs)
	}
	for {
		err := s.cfg.Port.Do(ctx, func(ctx context.Context, c serialport.Conn) error {
			if g := s.cfg.Port.Generation(); g != gen {
				gen = g
				sp.resync(s.skip)
			}
			s.setPort(nil, sp.pending())
			end := time.Now().Add(chunk)
			for {
				if err := c.SetReadTimeout(time.Until(end)); err != nil {
					return err
				}
				n, err := c.Read(buf)
				if errors.Is(err, serialport.ErrTimeout) {
					return nil
				}
				if err != nil {
					return err
				}
				sp.feed(buf[:n], line, s.skip)
				s.setPort(nil, sp.pending())
			}
		})
		var oe *serialport.OpenError
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			continue
		case errors.Is(err, serialport.ErrPortLost):
			sp.cut(s.skip)
			s.setPort(err, 0) // the next Do reopens it, or says when it will
			continue
		case errors.Is(err, serialport.ErrClosed):
			s.setPort(err, 0)
			s.cfg.Logger.Warn("serial line: port closed, reading stopped", "port", s.path)
			return
		case errors.As(err, &oe):
			s.setPort(err, 0)
			if !backoff.Sleep(ctx, time.Until(oe.Next)) {
				return
			}
		default:
			s.setPort(err, sp.pending())
			if !backoff.Sleep(ctx, retryWait) {
				return
			}
		}
	}
}

// skipLine counts line as skipped for why and logs it at debug level, one
// line a minute per reason.
func (s *Sensor) skipLine(why Reason, line []byte) {
	s.skip(why)
	const show = 64
	if len(line) > show {
		line = line[:show]
	}
	s.skipLines.Log(context.Background(), slog.LevelDebug, why.String(), "serial line skipped", "reason", why.String(), "line", string(line))
}
