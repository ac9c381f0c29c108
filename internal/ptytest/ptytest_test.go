package ptytest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/ptytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// allBytes is every byte value, the line and flow-control ones first.
func allBytes() []byte {
	b := []byte{0x0A, 0x0D, 0x11, 0x13, 0x00, 0x03, 0x04, 0x1A, 0x7F, 0xFF, 0x0D, 0x0A}
	for i := range 256 {
		b = append(b, byte(i))
	}
	return b
}

// deadliner is what readFull needs to give up.
type deadliner interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

// readFull reads len(want) bytes from r within 5 s and checks them.
func readFull(t *testing.T, what string, r deadliner, want []byte) {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("%s: read: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: read % x; want % x", what, got, want)
	}
}

// openPort opens path as the agent opens a serial device (serialport:
// raw mode set again, the framing cfg gives), now.
func openPort(t *testing.T, path string, cfg serialport.Config) *serialport.Port {
	t.Helper()
	cfg.Path = path
	p, err := serialport.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	// The first transaction opens it, and drops what waits: open it now.
	if err := p.Do(context.Background(), func(context.Context, serialport.Conn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return p
}

// portWrite writes b to p.
func portWrite(t *testing.T, what string, p *serialport.Port, b []byte) {
	t.Helper()
	err := p.Do(context.Background(), func(_ context.Context, c serialport.Conn) error {
		_, err := c.Write(b)
		return err
	})
	if err != nil {
		t.Fatalf("%s: write: %v", what, err)
	}
}

// portReadFull reads len(want) bytes from p within 5 s and checks them.
func portReadFull(t *testing.T, what string, p *serialport.Port, want []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make([]byte, len(want))
	err := p.Do(ctx, func(_ context.Context, c serialport.Conn) error {
		_, err := io.ReadFull(c, got)
		return err
	})
	if err != nil {
		t.Fatalf("%s: read: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: read % x; want % x", what, got, want)
	}
}

func TestPairPassesBytesUnaltered(t *testing.T) {
	// A program that opens the tty as a plain file, without setting raw
	// mode itself, sees the bytes as written: the pair made it raw.
	t.Run("plain open", func(t *testing.T) {
		p := ptytest.NewPair(t)
		f, err := os.OpenFile(p.Path(), os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		want := allBytes()
		if _, err := p.Write(want); err != nil {
			t.Fatal(err)
		}
		readFull(t, "device to tty", f, want)
		if _, err := f.Write(want); err != nil {
			t.Fatal(err)
		}
		readFull(t, "tty to device", p, want) // no echo of the first write either
	})
	t.Run("serialport", func(t *testing.T) {
		p := ptytest.NewPair(t)
		sp := openPort(t, p.Path(), serialport.Config{Baud: 9600, DataBits: 8, Parity: serialport.ParityEven, StopBits: 2})
		want := allBytes()
		if _, err := p.Write(want); err != nil {
			t.Fatal(err)
		}
		portReadFull(t, "device to port", sp, want)
		portWrite(t, "port to device", sp, want)
		readFull(t, "port to device", p, want)
	})
}

func TestPairCloseUnblocksDeviceRead(t *testing.T) {
	p := ptytest.NewPair(t)
	done := make(chan error)
	go func() {
		_, err := p.Read(make([]byte, 1))
		done <- err
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, os.ErrClosed) {
		t.Errorf("device Read after Close = %v; want os.ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
}

func TestLinkUnplugReplug(t *testing.T) {
	l := ptytest.NewLink(t)
	first := l.Pair().Path()
	if target, err := os.Readlink(l.Path()); err != nil || target != first {
		t.Fatalf("Readlink(%s) = %q, %v; want %q", l.Path(), target, err, first)
	}
	f, err := os.OpenFile(l.Path(), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := l.Pair().Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	readFull(t, "before unplug", f, []byte("a\n"))

	l.Unplug()
	if l.Pair() != nil {
		t.Error("Pair() after Unplug != nil")
	}
	// A hung-up tty reads as end of file and fails writes with EIO, as a
	// pulled USB adapter's does.
	if n, err := f.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("tty Read after Unplug = %d, %v; want 0, EOF", n, err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
		t.Errorf("tty Write after Unplug = %v; want EIO", err)
	}
	if _, err := os.Stat(l.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(link) after Unplug = %v; want not exist", err)
	}
	f.Close() // frees the pty number: Replug must still use a new one

	p := l.Replug()
	if p.Path() == first {
		t.Errorf("Replug reused %s", first)
	}
	if target, err := os.Readlink(l.Path()); err != nil || target != p.Path() {
		t.Fatalf("Readlink after Replug = %q, %v; want %q", target, err, p.Path())
	}
	g, err := os.OpenFile(l.Path(), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Write([]byte("b\r\n")); err != nil {
		t.Fatal(err)
	}
	readFull(t, "after replug", p, []byte("b\r\n"))

	// Replug while plugged in swaps the device too.
	third := l.Replug()
	if third.Path() == first || third.Path() == p.Path() {
		t.Errorf("second Replug gave %s; had %s and %s", third.Path(), first, p.Path())
	}
	if _, err := g.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
		t.Errorf("old tty Write after Replug = %v; want EIO", err)
	}
}

func TestNullModem(t *testing.T) {
	m := ptytest.NewNullModem(t)
	cfg := serialport.Config{Baud: 19200, DataBits: 8, Parity: serialport.ParityNone, StopBits: 1}
	a, b := openPort(t, m.PathA(), cfg), openPort(t, m.PathB(), cfg)
	want := allBytes()
	portWrite(t, "A to B", a, want)
	portReadFull(t, "A to B", b, want)
	portWrite(t, "B to A", b, want[:17])
	portReadFull(t, "B to A", a, want[:17])

	if err := m.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	err := a.Do(context.Background(), func(_ context.Context, c serialport.Conn) error {
		_, err := c.Write([]byte("x"))
		return err
	})
	if !errors.Is(err, serialport.ErrPortLost) || !errors.Is(err, syscall.EIO) {
		t.Errorf("Write after Close = %v; want ErrPortLost, EIO", err)
	}
	// goleak (TestMain) checks that the bridging goroutines ended.
}

func TestPairNotInherited(t *testing.T) {
	// A child process (the agent under test) must not inherit the device
	// side: it would keep the tty from hanging up on Close.
	p := ptytest.NewPair(t)
	out, err := exec.Command("ls", "-l", "/proc/self/fd/").CombinedOutput()
	if err != nil {
		t.Fatalf("ls: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("ptmx")) || bytes.Contains(out, []byte(p.Path())) {
		t.Errorf("a child process inherits the pair:\n%s", out)
	}
}
