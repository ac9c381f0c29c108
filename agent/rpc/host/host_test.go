//go:build linux

package host

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	f, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := os.Hostname(); err != nil || f.Hostname == "" || f.Hostname != h {
		t.Errorf("Hostname = %q; want os.Hostname() = %q (%v)", f.Hostname, h, err)
	}
	if f.OS != runtime.GOOS || f.Arch != runtime.GOARCH {
		t.Errorf("OS, Arch = %s, %s; want %s, %s", f.OS, f.Arch, runtime.GOOS, runtime.GOARCH)
	}
	if f.Kernel == "" {
		t.Error("Kernel is empty")
	}
	if f.Uptime <= 0 {
		t.Errorf("Uptime = %v; want > 0", f.Uptime)
	}
	if d := time.Since(f.BootTime.Add(f.Uptime)); d < -time.Second || d > 5*time.Second {
		t.Errorf("BootTime %v + Uptime %v is %v from now", f.BootTime, f.Uptime, d)
	}
	if f.MemAvailableBytes == 0 || f.MemTotalBytes < f.MemAvailableBytes {
		t.Errorf("MemTotalBytes, MemAvailableBytes = %d, %d; want total ≥ available > 0", f.MemTotalBytes, f.MemAvailableBytes)
	}
	if d := f.Disk; d.Path != dir || d.TotalBytes == 0 || d.TotalBytes < d.FreeBytes || d.FreeBytes < d.AvailableBytes {
		t.Errorf("Disk = %+v; want Path %s, total > 0, total ≥ free ≥ available", d, dir)
	}
	if f.ProcessRSSBytes == 0 {
		t.Error("ProcessRSSBytes = 0")
	}
	t.Logf("%+v", f)
}

func TestReadWithoutStateDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	f, err := Read(missing)
	if err != nil {
		t.Fatalf("Read = %v; want the other facts, no error", err)
	}
	if f.Disk != (Disk{Path: missing}) || f.Hostname == "" {
		t.Errorf("Read = %+v; want the disk zero and the other facts", f)
	}
}

// fakeRoot returns a reader of a directory holding the files given, by
// path from the root; a path ending in / is a directory.
func fakeRoot(t *testing.T, files map[string]string) *reader {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	return newReader(root)
}

// writeFiles writes the files given under root, by path from it; a path
// ending in / is a directory.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mustFill returns the facts r reads, failing the test if it fails.
func (r *reader) mustFill(t *testing.T) Facts {
	t.Helper()
	f := Facts{Disk: Disk{Path: os.TempDir()}} // one directory: another reads the sample again
	if err := r.fill(&f); err != nil {
		t.Fatalf("fill = %v", err)
	}
	return f
}

// TestDiskOfAnotherStateDir: the disk is part of the sample, but a fill
// for another state directory than the sample's reads that disk at once,
// and only it: the memory stays as sampled.
func TestDiskOfAnotherStateDir(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"proc/meminfo": "MemTotal: 4000 kB\nMemAvailable: 3000 kB\n"})
	r := newReader(root)
	new(fakeClock).install(r)
	dir, missing := t.TempDir(), filepath.Join(t.TempDir(), "missing")
	for i, path := range []string{dir, missing, dir} {
		f := Facts{Disk: Disk{Path: path}}
		if err := r.fill(&f); err != nil {
			t.Fatalf("fill %d (%s) = %v", i, path, err)
		}
		if f.Disk.Path != path || (path == dir) != (f.Disk.TotalBytes > 0) {
			t.Errorf("fill %d: Disk = %+v; want the disk of %s (none when missing)", i, f.Disk, path)
		}
		if f.MemAvailableBytes != 3000*1024 {
			t.Errorf("fill %d: MemAvailableBytes = %d; want the sample's 3000 kB", i, f.MemAvailableBytes)
		}
		writeFiles(t, root, map[string]string{"proc/meminfo": "MemTotal: 4000 kB\nMemAvailable: 1000 kB\n"})
	}
}

func TestMemory(t *testing.T) {
	f := fakeRoot(t, map[string]string{
		"proc/meminfo": "MemTotal:        3884164 kB\nMemFree:          120000 kB\nMemAvailable:    2714360 kB\nHugePages_Total:       0\n",
	}).mustFill(t)
	const total, available uint64 = 3884164 * 1024, 2714360 * 1024
	if f.MemTotalBytes != total || f.MemAvailableBytes != available {
		t.Errorf("MemTotalBytes, MemAvailableBytes = %d, %d; want %d, %d", f.MemTotalBytes, f.MemAvailableBytes, total, available)
	}
}

func TestMalformedMemory(t *testing.T) {
	for _, meminfo := range []string{
		"",
		"\n\n:\n",
		"MemTotal\nMemAvailable",
		"MemTotal: kB\nMemAvailable:",
		"MemTotal: 12\nMemAvailable: 12 MB\n",
		"MemTotal: -12 kB\nMemAvailable: 1.5 kB\n",
		"MemTotal: 99999999999999999999 kB\nMemAvailable: 18014398509481984 kB\n", // ×1024 overflows
		"MemTotal 1024 kB\nMemAvailable 1024 kB\n",
	} {
		f := fakeRoot(t, map[string]string{"proc/meminfo": meminfo}).mustFill(t)
		if f.MemTotalBytes != 0 || f.MemAvailableBytes != 0 {
			t.Errorf("meminfo %q: MemTotalBytes, MemAvailableBytes = %d, %d; want 0, 0", meminfo, f.MemTotalBytes, f.MemAvailableBytes)
		}
	}
}

func TestRSS(t *testing.T) {
	for statm, want := range map[string]uint64{
		"765 423 395 5 0 123 0\n": 423 * uint64(os.Getpagesize()),
		"765 423\n":               423 * uint64(os.Getpagesize()),
		"765\n":                   0,
		"765 x 395\n":             0,
		"":                        0,
	} {
		f := fakeRoot(t, map[string]string{"proc/self/statm": statm}).mustFill(t)
		if f.ProcessRSSBytes != want {
			t.Errorf("statm %q: ProcessRSSBytes = %d; want %d", statm, f.ProcessRSSBytes, want)
		}
	}
}

func TestCPUTemperature(t *testing.T) {
	const zones = "sys/class/thermal/"
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  *float64
	}{
		{"the CPU's zone over the others", map[string]string{
			zones + "thermal_zone0/type": "acpitz\n", zones + "thermal_zone0/temp": "27800\n",
			zones + "thermal_zone1/type": "x86_pkg_temp\n", zones + "thermal_zone1/temp": "55000\n",
			zones + "thermal_zone2/type": "iwlwifi_1\n", zones + "thermal_zone2/temp": "40000\n",
		}, new(55.0)},
		{"Raspberry Pi", map[string]string{
			zones + "cooling_device0/type": "gpio-fan\n",
			zones + "thermal_zone0/type":   "cpu-thermal\n", zones + "thermal_zone0/temp": "48312\n",
		}, new(48.312)},
		{"unreadable zones skipped", map[string]string{
			zones + "thermal_zone0/type": "cpu-thermal\n", zones + "thermal_zone0/temp": "garbage\n",
			zones + "thermal_zone1/type": "soc-thermal\n", zones + "thermal_zone1/temp/": "",
			zones + "thermal_zone2/type": "battery\n",
			zones + "thermal_zone3/type": "gpu-thermal\n", zones + "thermal_zone3/temp": "-1500\n",
			zones + "thermal_zone4/type": "ddr-thermal\n", zones + "thermal_zone4/temp": "30000\n",
		}, new(-1.5)},
		{"first zone by number without a CPU's", map[string]string{
			zones + "thermal_zone10/type": "b\n", zones + "thermal_zone10/temp": "10000\n",
			zones + "thermal_zone9/type": "a\n", zones + "thermal_zone9/temp": "9000\n",
		}, new(9.0)},
		{"no zones", map[string]string{zones: ""}, nil},
		{"no /sys", nil, nil},
		{"no zone reads", map[string]string{
			zones + "thermal_zone0/type": "cpu-thermal\n", zones + "thermal_zone0/temp": "\n",
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := fakeRoot(t, tt.files).mustFill(t).CPUTemperatureCelsius
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("CPUTemperatureCelsius = %s; want %s", show(got), show(tt.want))
			}
		})
	}
}

// show prints a temperature, or nil.
func show(t *float64) string {
	if t == nil {
		return "nil"
	}
	return strconv.FormatFloat(*t, 'f', -1, 64)
}

func TestEmptyRoot(t *testing.T) {
	f := newReader(t.TempDir()).mustFill(t)
	if f.Hostname == "" || f.Uptime <= 0 || f.Disk.TotalBytes == 0 {
		t.Errorf("fill = %+v; want the facts from system calls", f)
	}
	if f.MemTotalBytes != 0 || f.ProcessRSSBytes != 0 || f.CPUTemperatureCelsius != nil {
		t.Errorf("fill = %+v; want the facts from files zero", f)
	}
}

func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// fakeClock is a reader's clock that tests move.
type fakeClock struct{ now time.Time }

// install makes c r's clock and returns it.
func (c *fakeClock) install(r *reader) *fakeClock {
	c.now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return c.now }
	return c
}

func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

func TestSampleCached(t *testing.T) {
	const zone = "sys/class/thermal/thermal_zone0/"
	root := t.TempDir()
	write := func(memTotal, memAvailable, rss, milli string) {
		writeFiles(t, root, map[string]string{
			"proc/meminfo":    "MemTotal: " + memTotal + " kB\nMemFree: 1 kB\nMemAvailable: " + memAvailable + " kB\n",
			"proc/self/statm": "900 " + rss + " 300 5 0 100 0\n",
			zone + "type":     "cpu-thermal\n",
			zone + "temp":     milli + "\n",
		})
	}
	r := newReader(root)
	clock := new(fakeClock).install(r)
	page := uint64(os.Getpagesize())
	check := func(when string, total, available, rss uint64, celsius float64) {
		t.Helper()
		f := r.mustFill(t)
		if f.MemTotalBytes != total*1024 || f.MemAvailableBytes != available*1024 || f.ProcessRSSBytes != rss*page ||
			f.CPUTemperatureCelsius == nil || *f.CPUTemperatureCelsius != celsius {
			t.Errorf("%s: memory %d, %d, RSS %d, temperature %s; want %d, %d, %d, %v", when,
				f.MemTotalBytes, f.MemAvailableBytes, f.ProcessRSSBytes, show(f.CPUTemperatureCelsius),
				total*1024, available*1024, rss*page, celsius)
		}
		if f.Uptime <= 0 || f.Hostname == "" || f.Disk.TotalBytes == 0 {
			t.Errorf("%s: fill = %+v; want the facts from system calls", when, f)
		}
	}

	write("4000", "3000", "200", "50000")
	check("first", 4000, 3000, 200, 50)
	write("4000", "1000", "250", "61500")
	check("at once", 4000, 3000, 200, 50)
	clock.advance(sampleAge - time.Nanosecond)
	check("just before sampleAge", 4000, 3000, 200, 50)
	clock.advance(time.Nanosecond)
	check("after sampleAge", 4000, 1000, 250, 61.5)
	write("4000", "2000", "260", "62000")
	clock.advance(-time.Hour) // a clock set back reads again
	check("clock set back", 4000, 2000, 260, 62)
}

func TestSampleCopied(t *testing.T) {
	r := fakeRoot(t, map[string]string{
		"sys/class/thermal/thermal_zone0/type": "cpu-thermal\n",
		"sys/class/thermal/thermal_zone0/temp": "40000\n",
	})
	new(fakeClock).install(r)
	f := r.mustFill(t)
	*f.CPUTemperatureCelsius = 99 // the caller's to change
	if g := r.mustFill(t); *g.CPUTemperatureCelsius != 40 {
		t.Errorf("CPUTemperatureCelsius = %v after the last caller changed its own; want 40", *g.CPUTemperatureCelsius)
	}
}

func TestZoneChoiceCached(t *testing.T) {
	const zones = "sys/class/thermal/"
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		zones + "thermal_zone5/type": "x86_pkg_temp\n", zones + "thermal_zone5/temp": "50000\n",
	})
	r := newReader(root)
	clock := new(fakeClock).install(r)
	check := func(when string, want float64) {
		t.Helper()
		if got := r.mustFill(t).CPUTemperatureCelsius; got == nil || *got != want {
			t.Errorf("%s: CPUTemperatureCelsius = %s; want %v", when, show(got), want)
		}
	}
	check("first", 50)

	// A CPU's zone that would come first on a scan: the zones are not
	// scanned while the chosen one reads, however long.
	writeFiles(t, root, map[string]string{
		zones + "thermal_zone0/type": "cpu-thermal\n", zones + "thermal_zone0/temp": "10000\n",
		zones + "thermal_zone5/temp": "51000\n",
	})
	clock.advance(sampleAge)
	check("the chosen zone changed", 51)
	clock.advance(2 * rescanAge)
	check("rescanAge later", 51)

	// The chosen zone gone, the zones are scanned again.
	if err := os.RemoveAll(filepath.Join(root, zones, "thermal_zone5")); err != nil {
		t.Fatal(err)
	}
	clock.advance(sampleAge)
	check("the chosen zone gone", 10)
}

func TestZoneChoiceRescanned(t *testing.T) {
	const zones = "sys/class/thermal/"
	for _, tt := range []struct {
		name  string
		files map[string]string
		first *float64
	}{
		{"from another zone", map[string]string{zones + "thermal_zone0/type": "acpitz\n", zones + "thermal_zone0/temp": "27800\n"}, new(27.8)},
		{"from none", map[string]string{zones: ""}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tt.files)
			r := newReader(root)
			clock := new(fakeClock).install(r)
			check := func(when string, want *float64) {
				t.Helper()
				got := r.mustFill(t).CPUTemperatureCelsius
				if (got == nil) != (want == nil) || got != nil && *got != *want {
					t.Errorf("%s: CPUTemperatureCelsius = %s; want %s", when, show(got), show(want))
				}
			}
			check("first", tt.first)
			// A driver loaded late adds the CPU's zone: it shows at the
			// next scan, rescanAge after the first.
			writeFiles(t, root, map[string]string{
				zones + "thermal_zone1/type": "x86_pkg_temp\n", zones + "thermal_zone1/temp": "55000\n",
			})
			clock.advance(sampleAge)
			check("before rescanAge", tt.first)
			clock.advance(rescanAge)
			check("after rescanAge", new(55.0))
		})
	}
}

func TestReadConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if f, err := Read(dir); err != nil || f.MemTotalBytes == 0 || f.Hostname == "" {
					t.Errorf("Read = %+v, %v", f, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkReadUncached reads the facts with the files read every time,
// as one Read a second does.
func BenchmarkReadUncached(b *testing.B) {
	dir := b.TempDir()
	r := newReader("/")
	clock := new(fakeClock).install(r)
	b.ReportAllocs()
	for b.Loop() {
		clock.advance(sampleAge)
		f := Facts{Disk: Disk{Path: dir}}
		if err := r.fill(&f); err != nil {
			b.Fatal(err)
		}
	}
}
