package serialport_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/ptytest"
)

// TestOpenSetsTheFraming: the tty is raw, at the configured baud rate
// and framing, and nobody else may open it. A pty keeps all of the
// framing but the data bits and parity enable (it forces CS8, no
// PARENB): TestFraming checks those.
func TestOpenSetsTheFraming(t *testing.T) {
	dev := ptytest.NewPair(t)
	// Opened before the port is: TIOCEXCL does not shut out a descriptor
	// open already, and the termios is the tty's, whoever reads it.
	f, err := os.OpenFile(dev.Path(), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, _ := newPort(t, serialport.Config{Path: dev.Path(), Baud: 31250, DataBits: 7, Parity: serialport.ParityOdd, StopBits: 2})
	if err := p.Do(t.Context(), errFn(nil)); err != nil {
		t.Fatal(err)
	}
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS2)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Ospeed != 31250 || tio.Cflag&unix.CBAUD != unix.BOTHER {
		t.Errorf("output speed %d (CBAUD %#o); want 31250 (BOTHER)", tio.Ospeed, tio.Cflag&unix.CBAUD)
	}
	if got, want := tio.Cflag&(unix.PARODD|unix.CSTOPB|unix.CRTSCTS|unix.CLOCAL|unix.CREAD),
		uint32(unix.PARODD|unix.CSTOPB|unix.CLOCAL|unix.CREAD); got != want {
		t.Errorf("cflag %#o; want %#o (odd, 2 stop bits, local, no RTS/CTS)", got, want)
	}
	if tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || tio.Oflag&unix.OPOST != 0 || tio.Iflag&(unix.IXON|unix.ICRNL) != 0 {
		t.Errorf("lflag %#o, oflag %#o, iflag %#o: not raw", tio.Lflag, tio.Oflag, tio.Iflag)
	}
	if tio.Iflag&unix.INPCK == 0 {
		t.Errorf("iflag %#o: parity is not checked (INPCK)", tio.Iflag)
	}
	excl, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGEXCL)
	if err != nil {
		t.Fatal(err)
	}
	if excl == 0 {
		t.Error("the tty is not exclusive (TIOCEXCL)")
	}
}

// TestReadsOnADescriptorAbove1023: a port whose descriptor is 1024 or
// more works. select(2), which go.bug.st/serial waited in, cannot take
// one (it panicked); an agent with many devices and sockets has them.
func TestReadsOnADescriptorAbove1023(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < 1100 {
		t.Fatalf("RLIMIT_NOFILE %d: the test needs 1100 descriptors (Go raises the soft limit to the hard one; raise the hard one)", lim.Cur)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for {
		fd, err := unix.FcntlInt(null.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if fd >= 1030 {
			break
		}
	}
	dev := ptytest.NewPair(t)
	p, _ := newPort(t, serialport.Config{Path: dev.Path()})
	buf := make([]byte, 2)
	err = p.Do(t.Context(), func(_ context.Context, c serialport.Conn) error {
		if _, err := dev.Write([]byte("hi")); err != nil {
			return err
		}
		if err := c.SetReadTimeout(5 * time.Second); err != nil {
			return err
		}
		_, err := c.Read(buf)
		return err
	})
	if err != nil || buf[0] != 'h' {
		t.Fatalf("Do = %v, read %q; want nil, \"h...\"", err, buf)
	}
}

// TestFraming: the termios a port sets, from one a login shell left
// (canonical, echo, CR/NL translation, XON/XOFF, RTS/CTS, 9600 baud).
func TestFraming(t *testing.T) {
	for _, tc := range []struct {
		cfg   serialport.Config
		cflag uint32 // of CSIZE, PARENB, PARODD, CSTOPB
		inpck bool
	}{
		{serialport.Config{Baud: 9600, DataBits: 8, Parity: serialport.ParityNone, StopBits: 1}, unix.CS8, false},
		{serialport.Config{Baud: 19200, DataBits: 8, Parity: serialport.ParityEven, StopBits: 1}, unix.CS8 | unix.PARENB, true},
		{serialport.Config{Baud: 250000, DataBits: 7, Parity: serialport.ParityOdd, StopBits: 2}, unix.CS7 | unix.PARENB | unix.PARODD | unix.CSTOPB, true},
	} {
		tio := unix.Termios{
			Iflag: unix.ICRNL | unix.IXON | unix.IXOFF | unix.BRKINT | unix.ISTRIP | unix.INPCK,
			Oflag: unix.OPOST | unix.ONLCR,
			Cflag: unix.B9600 | unix.CS8 | unix.CREAD | unix.HUPCL | unix.CRTSCTS | unix.B9600<<unix.IBSHIFT,
			Lflag: unix.ICANON | unix.ECHO | unix.ECHOE | unix.ISIG | unix.IEXTEN,
		}
		serialport.SetFraming(&tio, tc.cfg)
		if got := tio.Cflag & (unix.CSIZE | unix.PARENB | unix.PARODD | unix.CSTOPB); got != tc.cflag {
			t.Errorf("%+v: framing bits %#o; want %#o", tc.cfg, got, tc.cflag)
		}
		if tio.Cflag&(unix.CBAUD|unix.CBAUD<<unix.IBSHIFT) != unix.BOTHER || tio.Ospeed != uint32(tc.cfg.Baud) || tio.Ispeed != uint32(tc.cfg.Baud) {
			t.Errorf("%+v: speed bits %#o, speeds %d/%d; want BOTHER, %d", tc.cfg, tio.Cflag&(unix.CBAUD|unix.CBAUD<<unix.IBSHIFT), tio.Ospeed, tio.Ispeed, tc.cfg.Baud)
		}
		if tio.Cflag&unix.CRTSCTS != 0 || tio.Cflag&(unix.CLOCAL|unix.CREAD) != unix.CLOCAL|unix.CREAD {
			t.Errorf("%+v: cflag %#o; want CLOCAL, CREAD, no CRTSCTS", tc.cfg, tio.Cflag)
		}
		if tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG|unix.IEXTEN) != 0 || tio.Oflag&unix.OPOST != 0 ||
			tio.Iflag&(unix.ICRNL|unix.IXON|unix.IXOFF|unix.BRKINT|unix.ISTRIP) != 0 {
			t.Errorf("%+v: iflag %#o, oflag %#o, lflag %#o: not raw", tc.cfg, tio.Iflag, tio.Oflag, tio.Lflag)
		}
		if got := tio.Iflag&unix.INPCK != 0; got != tc.inpck {
			t.Errorf("%+v: INPCK %v; want %v", tc.cfg, got, tc.inpck)
		}
		if tio.Cc[unix.VMIN] != 1 || tio.Cc[unix.VTIME] != 0 {
			t.Errorf("%+v: VMIN %d, VTIME %d; want 1, 0", tc.cfg, tio.Cc[unix.VMIN], tio.Cc[unix.VTIME])
		}
	}
}
