package host

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// reader reads the facts from the files under root: "/" but in tests.
type reader struct {
	root string
}

// fill reads this machine's facts into f.
func fill(f *Facts) error { return reader{root: "/"}.fill(f) }

// fill reads the facts into f, f.Disk.Path already set. It fails when
// none reads.
func (r reader) fill(f *Facts) error {
	// One buffer for every file read: /proc/meminfo is the largest, about
	// 1.5 KiB.
	buf := make([]byte, 4096)
	errs := [...]error{
		readUname(f),
		readUptime(f),
		readClock(f),
		readDisk(&f.Disk),
		r.readMemory(f, buf),
		r.readRSS(f, buf),
	}
	f.CPUTemperatureCelsius = r.cpuTemperature(buf)
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	return errors.Join(errs[:]...)
}

// readUname reads the hostname and the kernel's release.
func readUname(f *Facts) error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	f.Hostname = unix.ByteSliceToString(u.Nodename[:])
	f.Kernel = unix.ByteSliceToString(u.Release[:])
	return nil
}

// readUptime reads the uptime, by CLOCK_BOOTTIME, and the boot time.
func readUptime(f *Facts) error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return fmt.Errorf("clock_gettime: %w", err)
	}
	f.Uptime = time.Duration(ts.Nano())
	f.BootTime = time.Now().Add(-f.Uptime).Round(0) // a wall time, no monotonic reading
	return nil
}

// readClock reads whether the clock is synchronized; adjtimex with no
// modes set changes nothing.
func readClock(f *Facts) error {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return fmt.Errorf("adjtimex: %w", err)
	}
	f.ClockSynchronized = state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
	return nil
}

// readDisk reads the size and free space of the file system holding
// d.Path.
func readDisk(d *Disk) error {
	var st unix.Statfs_t
	if err := unix.Statfs(d.Path, &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	// The counts are in fragments; kernels before 2.6 left Frsize zero
	// and counted in blocks.
	size := uint64(st.Frsize)
	if size == 0 {
		size = uint64(st.Bsize)
	}
	d.TotalBytes = st.Blocks * size
	d.FreeBytes = st.Bfree * size
	d.AvailableBytes = st.Bavail * size
	return nil
}

// path returns where the file name is: under r.root.
func (r reader) path(name string) string { return filepath.Join(r.root, name) }

// readFile reads the file name, under r.root, into buf, up to len(buf)
// bytes. Files in /proc and /sys report no size, so os.ReadFile would
// grow its buffer for each.
func (r reader) readFile(name string, buf []byte) ([]byte, error) {
	f, err := os.Open(r.path(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return buf[:n], err
}
