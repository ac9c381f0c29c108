package host

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// sampleAge is how long the facts that change slowly (memory, resident
// set, temperature, the clock's synchronization, the disk) are reused
// before they are read again.
const sampleAge = time.Second

// rescanAge is how long a choice of thermal zone that is not the CPU's
// zone stands before the zones are scanned again.
const rescanAge = time.Minute

// reader reads the facts from the files under a root: "/" but in tests.
// It caches what it reads (see the package's Freshness), so each root
// has one reader; it is safe for concurrent use.
type reader struct {
	// meminfo, statm and thermal are the paths of /proc/meminfo,
	// /proc/self/statm and /sys/class/thermal under the root.
	meminfo, statm, thermal string
	// now is the clock by which the cached facts age: time.Now but in
	// tests.
	now func() time.Time

	mu sync.Mutex // guards what follows
	// buf is the one buffer for every file read: /proc/meminfo is the
	// largest, about 1.5 KiB.
	buf [4096]byte
	// sample is the latest reading of the files.
	sample sample
	// zone is the thermal zone chosen as the CPU's.
	zone zone
}

// sample is one reading of the facts that change slowly.
type sample struct {
	at                     time.Time // zero before the first
	memTotal, memAvailable uint64
	memErr                 error
	rss                    uint64
	rssErr                 error
	temperature            float64
	temperatureOK          bool
	clockSynchronized      bool
	clockErr               error
	disk                   Disk // of the state directory the sample was read for
	diskErr                error
}

// newReader returns a reader of the files under root.
func newReader(root string) *reader {
	return &reader{
		meminfo: filepath.Join(root, "proc/meminfo"),
		statm:   filepath.Join(root, "proc/self/statm"),
		thermal: filepath.Join(root, thermalDir),
		now:     time.Now,
	}
}

// system reads this machine's facts.
var system = newReader("/")

// fill reads this machine's facts into f.
func fill(f *Facts) error { return system.fill(f) }

// fill reads the facts into f, f.Disk.Path already set. It fails when
// none reads.
func (r *reader) fill(f *Facts) error {
	s := r.fillSample(f)
	errs := [...]error{
		readUname(f),
		readUptime(f),
		s.clockErr,
		s.diskErr,
		s.memErr,
		s.rssErr,
	}
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	return errors.Join(errs[:]...)
}

// fillSample sets the facts that change slowly, read again when the
// reading is sampleAge old (the disk also when it was of another state
// directory), and returns the sample, whose errors are those reading
// them.
func (r *reader) fillSample(f *Facts) sample {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.sample
	if age := now.Sub(s.at); s.at.IsZero() || age < 0 || age >= sampleAge {
		r.readSample(now, f.Disk.Path)
	} else if s.disk.Path != f.Disk.Path {
		s.disk, s.diskErr = readDisk(f.Disk.Path)
	}
	f.MemTotalBytes, f.MemAvailableBytes = s.memTotal, s.memAvailable
	f.ProcessRSSBytes = s.rss
	if s.temperatureOK {
		t := s.temperature // the caller's own
		f.CPUTemperatureCelsius = &t
	}
	f.ClockSynchronized = s.clockSynchronized
	f.Disk = s.disk
	return *s
}

// readSample reads the facts that change slowly into r.sample, the disk
// of stateDir, r.mu held.
func (r *reader) readSample(now time.Time, stateDir string) {
	s := &r.sample
	s.at = now
	s.memTotal, s.memAvailable, s.memErr = r.readMemory()
	s.rss, s.rssErr = r.readRSS()
	s.temperature, s.temperatureOK = r.cpuTemperature(now)
	s.clockSynchronized, s.clockErr = readClock()
	s.disk, s.diskErr = readDisk(stateDir)
}

// uname is the hostname and the kernel's release, read once: they do not
// change while the agent runs.
var uname = sync.OnceValues(func() (utsname, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return utsname{}, os.NewSyscallError("uname", err)
	}
	return utsname{
		hostname: unix.ByteSliceToString(u.Nodename[:]),
		kernel:   unix.ByteSliceToString(u.Release[:]),
	}, nil
})

// utsname is what Facts takes from uname.
type utsname struct{ hostname, kernel string }

// readUname sets the hostname and the kernel's release.
func readUname(f *Facts) error {
	u, err := uname()
	f.Hostname, f.Kernel = u.hostname, u.kernel
	return err
}

// readUptime reads the uptime, by CLOCK_BOOTTIME, and the boot time.
func readUptime(f *Facts) error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return os.NewSyscallError("clock_gettime", err)
	}
	f.Uptime = time.Duration(ts.Nano())
	f.BootTime = time.Now().Add(-f.Uptime).Round(0) // a wall time, no monotonic reading
	return nil
}

// readClock reads whether the clock is synchronized; adjtimex with no
// modes set changes nothing.
func readClock() (bool, error) {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return false, os.NewSyscallError("adjtimex", err)
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0, nil
}

// readDisk reads the size and free space of the file system holding the
// directory path; only the path is set when it cannot.
func readDisk(path string) (Disk, error) {
	d := Disk{Path: path}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return d, os.NewSyscallError("statfs", err)
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
	return d, nil
}

// readFile reads the file at path into r.buf, up to its length, r.mu
// held. Files in /proc and /sys report no size, so os.ReadFile would grow
// its buffer for each; and an os.File costs allocations that a file
// descriptor, closed at once, does not.
func (r *reader) readFile(path string) ([]byte, error) {
	fd, err := open(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	n := 0
	for n < len(r.buf) {
		m, err := unix.Read(fd, r.buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return r.buf[:n], nil
}

// open opens the file at path to read.
func open(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
