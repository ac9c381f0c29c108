//go:build linux && (amd64 || arm64)

package powercut

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a file or directory: the loopback's, but for opening files,
// which go through file, and their attributes.
type node struct {
	*fs.LoopbackNode
	fs *fsys
}

var (
	_ fs.NodeWrapChilder = (*node)(nil)
	_ fs.NodeOpener      = (*node)(nil)
	_ fs.NodeCreater     = (*node)(nil)
	_ fs.NodeGetattrer   = (*node)(nil)
	_ fs.NodeSetattrer   = (*node)(nil)
)

// WrapChild makes every file and directory below a node too.
func (n *node) WrapChild(_ context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), fs: n.fs}
}

// below is the node's path in the directory below.
func (n *node) below() string {
	return filepath.Join(n.RootData.Path, n.Path(n.Root()))
}

// Open opens a file through file.
func (n *node) Open(_ context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	flags &^= syscall.O_APPEND | fuse.FMODE_EXEC
	flags = flags&^syscall.O_WRONLY | syscall.O_RDWR // fsync writes below through any handle
	p := n.below()
	f, err := os.OpenFile(p, int(flags), 0)
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	h := &file{fs: n.fs, path: p, f: f}
	if flags&syscall.O_TRUNC != 0 {
		if st, errno := h.stat(); errno == 0 {
			n.fs.truncated(st, 0)
		}
	}
	return h, 0, 0
}

// Create creates a file below at once, as the loopback does (names are
// durable), and opens it through file.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	flags = flags&^syscall.O_WRONLY | syscall.O_RDWR
	ch, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	lf := fh.(*fs.LoopbackFile)
	fd, _ := lf.PassthroughFd()
	dup, err := syscall.Dup(fd)
	lf.Release(ctx)
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	h := &file{fs: n.fs, path: filepath.Join(n.below(), name), f: os.NewFile(uintptr(dup), name)}
	if flags&syscall.O_TRUNC != 0 {
		if st, errno := h.stat(); errno == 0 {
			n.fs.truncated(st, 0)
		}
	}
	return ch, h, fuseFlags, 0
}

// Getattr is the loopback's, with the size the file's writers see.
func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if h, ok := fh.(*file); ok {
		return h.Getattr(ctx, out)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(n.below(), &st); err != nil {
		return fs.ToErrno(err)
	}
	n.fs.sizeOf(n.below(), &st)
	out.FromStat(&st)
	return 0
}

// Setattr is the loopback's, dropping the unsynced data past a new
// size.
func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if h, ok := fh.(*file); ok {
		return h.Setattr(ctx, in, out)
	}
	if errno := n.LoopbackNode.Setattr(ctx, nil, in, out); errno != 0 {
		return errno
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(n.below(), &st); err != nil {
		return fs.ToErrno(err)
	}
	if sz, ok := in.GetSize(); ok {
		n.fs.truncated(&st, int64(sz))
	}
	n.fs.sizeOf(n.below(), &st)
	out.FromStat(&st)
	return 0
}
