//go:build linux && (amd64 || arm64)

package powercut

import (
	"context"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// file is an open file: reads see its unsynced data over the file below,
// writes go to that data, fsync writes it below.
type file struct {
	fs   *fsys
	path string   // below
	f    *os.File // below
}

var (
	_ fs.FileReader    = (*file)(nil)
	_ fs.FileWriter    = (*file)(nil)
	_ fs.FileFsyncer   = (*file)(nil)
	_ fs.FileFlusher   = (*file)(nil)
	_ fs.FileReleaser  = (*file)(nil)
	_ fs.FileGetattrer = (*file)(nil)
	_ fs.FileSetattrer = (*file)(nil)
	_ fs.FileAllocater = (*file)(nil)
)

func (h *file) stat() (*syscall.Stat_t, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(h.f.Fd()), &st); err != nil {
		return nil, fs.ToErrno(err)
	}
	return &st, 0
}

// Read reads the file as its writers left it.
func (h *file) Read(_ context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	st, errno := h.stat()
	if errno != 0 {
		return nil, errno
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	d := h.fs.dirtyLocked(h.path, st, false)
	size := st.Size
	if d != nil {
		size = d.size
	}
	if off >= size {
		return fuse.ReadResultData(nil), 0
	}
	n := int(min(int64(len(dest)), size-off))
	out := dest[:n]
	for done := 0; done < n; {
		pos := off + int64(done)
		idx, in := pos/pageSize, pos%pageSize
		chunk := min(n-done, int(pageSize-in))
		if d != nil {
			if p, ok := d.pages[idx]; ok {
				copy(out[done:done+chunk], p[in:])
				done += chunk
				continue
			}
		}
		got, err := h.f.ReadAt(out[done:done+chunk], pos)
		if err != nil && err != io.EOF {
			return nil, fs.ToErrno(err)
		}
		clear(out[done+got : done+chunk]) // past the end below: not written back yet
		done += chunk
	}
	return fuse.ReadResultData(out), 0
}

// Write keeps data in memory, page by page, until an fsync.
func (h *file) Write(_ context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if h.fs.stopped() {
		return 0, syscall.EIO
	}
	st, errno := h.stat()
	if errno != 0 {
		return 0, errno
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	d := h.fs.dirtyLocked(h.path, st, true)
	for done := 0; done < len(data); {
		pos := off + int64(done)
		idx, in := pos/pageSize, pos%pageSize
		chunk := min(len(data)-done, int(pageSize-in))
		p, ok := d.pages[idx]
		if !ok {
			p = make([]byte, pageSize)
			if idx*pageSize < d.size {
				if _, err := h.f.ReadAt(p, idx*pageSize); err != nil && err != io.EOF {
					return 0, fs.ToErrno(err)
				}
			}
			d.pages[idx] = p
		}
		copy(p[in:], data[done:done+chunk])
		done += chunk
	}
	d.size = max(d.size, off+int64(len(data)))
	return uint32(len(data)), 0
}

// Fsync writes the file's unsynced data below: from now on a power cut
// keeps it.
func (h *file) Fsync(_ context.Context, _ uint32) syscall.Errno {
	time.Sleep(h.fs.syncDelay) // the card's time, the data not safe yet
	if h.fs.stopped() {
		return syscall.EIO
	}
	st, errno := h.stat()
	if errno != 0 {
		return errno
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.fs.off {
		return syscall.EIO // the power went during the sync
	}
	d := h.fs.dirtyLocked(h.path, st, false)
	if d == nil {
		return 0
	}
	for idx, p := range d.pages {
		end := min(int64(pageSize), d.size-idx*pageSize)
		if end <= 0 {
			continue
		}
		if _, err := h.f.WriteAt(p[:end], idx*pageSize); err != nil {
			return fs.ToErrno(err)
		}
	}
	delete(h.fs.files, st.Ino)
	return 0
}

// Flush (a close) syncs nothing.
func (h *file) Flush(context.Context) syscall.Errno { return 0 }

// Release closes the file below; its unsynced data stays.
func (h *file) Release(context.Context) syscall.Errno { return fs.ToErrno(h.f.Close()) }

// Getattr is the file's below, with the size its writers see.
func (h *file) Getattr(_ context.Context, out *fuse.AttrOut) syscall.Errno {
	st, errno := h.stat()
	if errno != 0 {
		return errno
	}
	h.fs.sizeOf(h.path, st)
	out.FromStat(st)
	return 0
}

// Setattr applies at once, below: a truncate drops the unsynced data
// past the new size.
func (h *file) Setattr(_ context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok {
		if err := h.f.Truncate(int64(sz)); err != nil {
			return fs.ToErrno(err)
		}
	}
	if m, ok := in.GetMode(); ok {
		if err := h.f.Chmod(os.FileMode(m)); err != nil {
			return fs.ToErrno(err)
		}
	}
	st, errno := h.stat()
	if errno != 0 {
		return errno
	}
	if sz, ok := in.GetSize(); ok {
		h.fs.truncated(st, int64(sz))
	}
	h.fs.sizeOf(h.path, st)
	out.FromStat(st)
	return 0
}

// Allocate applies below at once, as metadata does.
func (h *file) Allocate(_ context.Context, off, size uint64, mode uint32) syscall.Errno {
	return fs.ToErrno(syscall.Fallocate(int(h.f.Fd()), mode, int64(off), int64(size)))
}

// sizeOf sets st's size to what the file's writers see.
func (f *fsys) sizeOf(path string, st *syscall.Stat_t) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.dirtyLocked(path, st, false); d != nil {
		st.Size = d.size
	}
}

// truncated drops the unsynced data of st's file past size.
func (f *fsys) truncated(st *syscall.Stat_t, size int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.files[st.Ino]
	if d == nil {
		return
	}
	for idx, p := range d.pages {
		switch start := idx * pageSize; {
		case start >= size:
			delete(d.pages, idx)
		case start+pageSize > size:
			clear(p[size-start:])
		}
	}
	d.size = size
}
