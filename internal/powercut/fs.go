//go:build linux && (amd64 || arm64)

package powercut

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// pageSize is the unit the filesystem keeps unsynced data in, and tears.
const pageSize = 4096

// sectorSize is the unit a torn page is cut at.
const sectorSize = 512

// Available reports whether this process can mount the filesystem: nil,
// or why not.
func Available() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("no /dev/fuse: %w", err)
	}
	if os.Geteuid() != 0 {
		return errors.New("not root: mounting FUSE here needs root (or CAP_SYS_ADMIN)")
	}
	return nil
}

// fsys is the filesystem, mounted at dir over the directory back.
type fsys struct {
	back, dir string
	syncDelay time.Duration // each fsync's
	server    *fuse.Server

	mu    sync.Mutex
	files map[uint64]*dirtyFile // by the file's inode below
	// off: the power is off. The writes and fsyncs from then on fail,
	// keeping nothing: the disk's state is that of the moment the power
	// went, whatever the writer goes on doing until it is killed.
	off bool
	rng *rand.Rand
}

// mountFS mounts a new filesystem over the directory back, at dir; seed
// seeds what tears, and each fsync takes syncDelay. Unmount it when done.
func mountFS(back, dir string, seed uint64, syncDelay time.Duration) (*fsys, error) {
	f := &fsys{back: back, dir: dir, syncDelay: syncDelay, files: make(map[uint64]*dirtyFile), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	return f, f.mount()
}

func (f *fsys) mount() error {
	var st syscall.Stat_t
	if err := syscall.Stat(f.back, &st); err != nil {
		return err
	}
	rootData := &fs.LoopbackRoot{Path: f.back, Dev: uint64(st.Dev)}
	rootNode := &node{LoopbackNode: &fs.LoopbackNode{RootData: rootData}, fs: f}
	rootData.RootNode = rootNode
	var zero time.Duration
	server, err := fs.Mount(f.dir, rootNode, &fs.Options{
		// The kernel asks each time: the size of a file with unsynced
		// data is the filesystem's, not the directory's below.
		AttrTimeout:  &zero,
		EntryTimeout: &zero,
		MountOptions: fuse.MountOptions{DirectMount: true, DirectMountStrict: true, FsName: "powercut", Name: "powercut"},
	})
	if err != nil {
		return fmt.Errorf("powercut: mount %s: %w", f.dir, err)
	}
	f.server = server
	return nil
}

// unmount unmounts the filesystem; its unsynced data stays for Cut or
// Remount.
func (f *fsys) unmount() error {
	if f.server == nil {
		return nil
	}
	err := f.server.Unmount()
	f.server = nil
	return err
}

// powerCut unmounts the filesystem (every process using it must be gone:
// killed), drops the data not synced, tearing it when tear is set, and
// mounts it again, with an empty page cache. It returns how many pages
// were dropped, and how many of them were written in part or whole.
func (f *fsys) powerCut(tear bool) (dropped, torn int, err error) {
	f.powerOff()
	if err := f.unmount(); err != nil {
		return 0, 0, err
	}
	f.mu.Lock()
	for ino, d := range f.files {
		dropped += len(d.pages)
		if tear {
			torn += f.tearLocked(d)
		}
		delete(f.files, ino)
	}
	f.off = false
	f.mu.Unlock()
	return dropped, torn, f.mount()
}

// powerOff turns the power off: from now on until the cut every write
// and fsync fails, and keeps nothing.
func (f *fsys) powerOff() {
	f.mu.Lock()
	f.off = true
	f.mu.Unlock()
}

// stopped reports whether the power is off.
func (f *fsys) stopped() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.off
}

// tearLocked writes a random half of d's unsynced pages to the file
// below, each whole or its first sectors only, as a disk's cache does
// when the power goes. It returns how many it wrote.
func (f *fsys) tearLocked(d *dirtyFile) int {
	out, err := os.OpenFile(d.path, os.O_WRONLY, 0)
	if err != nil {
		return 0 // removed since: nothing to tear
	}
	defer out.Close()
	n := 0
	for idx, p := range d.pages {
		if f.rng.IntN(2) == 0 {
			continue
		}
		end := min(int64(pageSize), d.size-idx*pageSize)
		if end <= 0 {
			continue
		}
		if f.rng.IntN(2) == 0 {
			end = min(end, int64(1+f.rng.IntN(pageSize/sectorSize-1))*sectorSize)
		}
		if _, err := out.WriteAt(p[:end], idx*pageSize); err == nil {
			n++
		}
	}
	return n
}

// unsynced is how many pages of data wait for an fsync.
func (f *fsys) unsynced() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, d := range f.files {
		n += len(d.pages)
	}
	return n
}

// dirtyFile is a file's data written and not synced: whole pages, and
// the file's size as its writers see it.
type dirtyFile struct {
	path  string // below, as of the first write
	pages map[int64][]byte
	size  int64
}

// dirtyLocked returns the unsynced data of the file below at path,
// whose inode and size are st's, making it when create is set; nil
// otherwise.
func (f *fsys) dirtyLocked(path string, st *syscall.Stat_t, create bool) *dirtyFile {
	d := f.files[st.Ino]
	if d == nil && create {
		d = &dirtyFile{path: path, pages: make(map[int64][]byte), size: st.Size}
		f.files[st.Ino] = d
	}
	return d
}
