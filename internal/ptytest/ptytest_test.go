package ptytest_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/ptytest"
	"go.bug.st/serial"
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

// serialReadFull reads len(want) bytes from a go.bug.st/serial port and
// checks them.
func serialReadFull(t *testing.T, what string, p serial.Port, want []byte) {
	t.Helper()
	if err := p.SetReadTimeout(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 512)
	for deadline := time.Now().Add(5 * time.Second); len(got) < len(want); {
		n, err := p.Read(buf[:min(len(buf), len(want)-len(got))])
		if err != nil {
			t.Fatalf("%s: read: %v", what, err)
		}
		if n == 0 && time.Now().After(deadline) {
			t.Fatalf("%s: read % x before timing out; want % x", what, got, want)
		}
		got = append(got, buf[:n]...)
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
	t.Run("go.bug.st/serial", func(t *testing.T) {
		p := ptytest.NewPair(t)
		sp, err := serial.Open(p.Path(), &serial.Mode{BaudRate: 9600, DataBits: 8, Parity: serial.EvenParity, StopBits: serial.TwoStopBits})
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		want := allBytes()
		if _, err := p.Write(want); err != nil {
			t.Fatal(err)
		}
		serialReadFull(t, "device to port", sp, want)
		if _, err := sp.Write(want); err != nil {
			t.Fatal(err)
		}
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
	// pulled USB adapter's does; go.bug.st/serial reports that read as
	// "port closed".
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
	mode := &serial.Mode{BaudRate: 19200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	a, err := serial.Open(m.PathA(), mode)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := serial.Open(m.PathB(), mode)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	want := allBytes()
	if _, err := a.Write(want); err != nil {
		t.Fatal(err)
	}
	serialReadFull(t, "A to B", b, want)
	if _, err := b.Write(want[:17]); err != nil {
		t.Fatal(err)
	}
	serialReadFull(t, "B to A", a, want[:17])

	if err := m.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, syscall.EIO) {
		t.Errorf("Write after Close = %v; want EIO", err)
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
