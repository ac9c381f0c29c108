package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/serialline"
)

// Sensor runs a program at each read and decodes its output.
type Sensor struct {
	name string
	cfg  Settings
}

// Config configures a Sensor.
type Config struct {
	// Name is the sensor's name in telemetry, and the program's
	// IOT_HUB_SENSOR.
	Name string
	// Settings are the program and what it prints: the keys of an exec
	// sensor.
	Settings
}

// ErrTooMuchOutput: the program wrote more than MaxOutputBytes.
var ErrTooMuchOutput = errors.New("more output than maxOutputBytes")

// path is the PATH the program gets, and looks a bare name up in.
const path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stderrKept is how much of the program's stderr an error quotes.
const stderrKept = 512

// killWait is how long a read waits, once the program is killed or has
// exited, for what it started to let go of its output.
const killWait = 100 * time.Millisecond

// New returns the sensor of cfg, its defaults filled in.
func New(cfg Config) (*Sensor, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	cfg.Command = append([]string(nil), cfg.Command...)
	return &Sensor{name: cfg.Name, cfg: cfg.Settings}, nil
}

// Name returns the configured name.
func (s *Sensor) Name() string { return s.name }

// Read runs the program until it exits or ctx ends, and returns the
// readings of its output.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	prog := s.cfg.Command[0]
	bin, err := lookPath(prog)
	if err != nil {
		return nil, fmt.Errorf("command %s: %w", prog, err)
	}
	cmd := exec.CommandContext(ctx, bin, s.cfg.Command[1:]...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=" + path, "LANG=C.UTF-8", "IOT_HUB_SENSOR=" + s.name}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	kill := func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Cancel = kill
	cmd.WaitDelay = killWait
	out := &bounded{max: int(s.cfg.MaxOutputBytes), full: func() { _ = kill() }}
	var stderr bounded
	stderr.max = stderrKept
	cmd.Stdout, cmd.Stderr = out, &stderr

	if err = cmd.Start(); err == nil {
		awaitExit(cmd.Process)
		err = cmd.Wait()
	}
	switch {
	case out.over:
		return nil, fmt.Errorf("command %s: %w (%d bytes)", prog, ErrTooMuchOutput, s.cfg.MaxOutputBytes)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("command %s: killed at the timeout: %w", prog, ctx.Err())
	case err != nil:
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("command %s: %w: %s", prog, err, msg)
		}
		return nil, fmt.Errorf("command %s: %w", prog, err)
	}
	rs, err := parseOutput(s.cfg.Format, out.Bytes(), s.cfg.Units)
	if err != nil {
		return nil, fmt.Errorf("command %s: %w", prog, err)
	}
	return rs, nil
}

// parseOutput decodes a program's output, its line ends read as spaces.
func parseOutput(format string, out []byte, units map[string]string) ([]sensors.Reading, error) {
	out = bytes.Clone(bytes.TrimSpace(out))
	for i, c := range out {
		if c == '\n' || c == '\r' {
			out[i] = ' ' // byte by byte: bytes.Map would make garbage valid UTF-8
		}
	}
	return serialline.DecodeRecord(format, out, units)
}

// lookPath finds a name without a slash in the program's PATH (not the
// agent's, which exec.Command would search).
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for dir := range strings.SplitSeq(path, ":") {
		if p, err := exec.LookPath(dir + "/" + name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in PATH %s", path)
}

// bounded keeps up to max bytes written to it; past that it calls full,
// once, and fails every write.
type bounded struct {
	max  int
	full func()

	mu   sync.Mutex
	buf  bytes.Buffer
	over bool
}

// Write keeps p, or fails once max bytes would be passed (stderr: keeps
// what fits and takes the rest without keeping it).
func (b *bounded) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - b.buf.Len()
	if len(p) <= room {
		return b.buf.Write(p)
	}
	b.buf.Write(p[:max(room, 0)])
	if b.full == nil {
		return len(p), nil // stderr: the start is what matters
	}
	if !b.over {
		b.over = true
		b.full()
	}
	return 0, ErrTooMuchOutput
}

// ReadFrom writes what it reads from r, up to its end, as Write does.
// os/exec copies a program's output with it, through its small buffer
// instead of a 32 KiB one made for every run.
func (b *bounded) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	chunk := make([]byte, 512)
	for {
		n, err := r.Read(chunk)
		total += int64(n)
		if n > 0 {
			if _, werr := b.Write(chunk[:n]); werr != nil {
				return total, werr
			}
		}
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}

// Bytes returns what was kept.
func (b *bounded) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}

// String returns what was kept.
func (b *bounded) String() string { return string(b.Bytes()) }
