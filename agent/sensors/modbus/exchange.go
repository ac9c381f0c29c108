package modbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/iot-hub/agent/agent/sensors/serialport"
)

// minSettle is the least silence that ends a damaged frame. The spec's
// t3.5 is shorter, but USB serial adapters hand over what they receive
// in bursts up to 16 ms apart.
const minSettle = 20 * time.Millisecond

// exchange is one attempt of q on c, the port's turn: it waits for the
// inter-frame gap since the last byte on the port, drops what the input holds
// (noise, a late answer to an earlier attempt), sends q and reads its
// response, up to the response's length or for at most timeout. It
// returns the register values, or ErrTimeout, ErrCRC, ErrFrame, an
// *ExceptionError, or the Conn's errors as they are (they name the port).
func exchange(ctx context.Context, c serialport.Conn, gap, timeout time.Duration, q request) ([]uint16, error) {
	if err := waitQuiet(ctx, c.LastByte(), gap); err != nil {
		return nil, err
	}
	if err := c.ResetInputBuffer(); err != nil {
		return nil, err
	}
	if _, err := c.Write(q.frame()); err != nil {
		return nil, err
	}
	if err := c.Drain(); err != nil {
		return nil, err
	}
	buf := make([]byte, q.responseLen())
	n, err := readFrame(c, q, buf, c.LastByte().Add(timeout))
	switch {
	case err != nil:
		return nil, err
	case n == 0:
		return nil, fmt.Errorf("%w within %v", ErrTimeout, timeout)
	}
	words, err := decodeResponse(q, buf[:n])
	if errors.Is(err, ErrCRC) || errors.Is(err, ErrFrame) {
		// The rest of a damaged frame may still be coming: let it pass,
		// so that it is not taken for the start of the next response.
		if serr := settle(c, max(gap, minSettle), timeout); serr != nil {
			return nil, errors.Join(err, serr)
		}
	}
	return words, err
}

// readFrame reads the response to q into buf until it has the length its
// first bytes announce or deadline passes, and returns how many bytes it
// read. The Conn's reads end with ctx.
func readFrame(c serialport.Conn, q request, buf []byte, deadline time.Time) (int, error) {
	n := 0
	for {
		need := q.expectedLen(buf[:n])
		if n >= need {
			return need, nil
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return n, nil
		}
		if err := c.SetReadTimeout(wait); err != nil {
			return 0, err
		}
		k, err := c.Read(buf[n:need])
		n += k
		if err != nil && !errors.Is(err, serialport.ErrTimeout) {
			return 0, err
		}
	}
}

// settle reads and drops bytes until the line has been quiet for quiet,
// for at most limit.
func settle(c serialport.Conn, quiet, limit time.Duration) error {
	if err := c.SetReadTimeout(quiet); err != nil {
		return err
	}
	end := time.Now().Add(limit)
	var junk [64]byte
	for time.Now().Before(end) {
		k, err := c.Read(junk[:])
		if k > 0 {
			continue
		}
		if errors.Is(err, serialport.ErrTimeout) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// waitQuiet returns once gap has passed since last, the last byte on the
// wire, or with ctx's error when ctx ends first.
func waitQuiet(ctx context.Context, last time.Time, gap time.Duration) error {
	d := time.Until(last.Add(gap))
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
