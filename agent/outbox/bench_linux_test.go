package outbox_test

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// benchIO reads two counters of /proc/self/io. wchar is the bytes this
// process handed to write system calls: for the benchmarks, the pages
// bbolt writes with pwrite (plus a few bytes of test output, written only
// between benchmarks). writeBytes is write_bytes, the bytes the process
// caused to be sent to the storage layer as the kernel accounts them: per
// page-cache folio dirtied, so on kernels with large folios (6.x ext4) a
// 4 KiB pwrite into a file whose cache holds a 2 MiB folio counts up to
// 2 MiB, though only the dirty 4 KiB block goes to the disk. Neither
// counts the file system's journal, written by a kernel thread.
func benchIO() (writeBytes, wchar int64, err error) {
	if writeBytes, err = benchProcField("/proc/self/io", "write_bytes:"); err != nil {
		return 0, 0, err
	}
	wchar, err = benchProcField("/proc/self/io", "wchar:")
	return writeBytes, wchar, err
}

// benchRssAnonKB is RssAnon of /proc/self/status, in kB: the process's
// resident anonymous memory (Go heap, stacks, runtime), without the
// file-backed memory map of the bbolt file.
func benchRssAnonKB() (int64, error) {
	return benchProcField("/proc/self/status", "RssAnon:")
}

// benchProcField reads the first number after prefix in a /proc file.
func benchProcField(path, prefix string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			break
		}
		return strconv.ParseInt(fields[0], 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no %q line", path, prefix)
}

// benchFSType names the file system dir is on, so the results say whether
// they were measured on a disk or in memory.
func benchFSType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	names := map[int64]string{
		0xEF53:     "ext2/ext3/ext4",
		0x01021994: "tmpfs (memory, not a disk!)",
		0x58465342: "xfs",
		0x9123683E: "btrfs",
		0x794C7630: "overlayfs",
		0xF2F52010: "f2fs",
	}
	name, ok := names[int64(st.Type)]
	if !ok {
		name = "unknown"
	}
	return fmt.Sprintf("%s (statfs type %#x)", name, st.Type)
}
