// Package powercut is a FUSE filesystem for tests that simulates a power
// cut, as LazyFS does: it passes a directory through, but keeps the data
// written to a file in its own memory until the file is fsynced (fsync
// or fdatasync), and a power cut drops whatever was not, optionally
// tearing it: writing a random part of the unsynced pages, some of them
// only in part, as a disk that lost power mid-write does.
//
// Metadata is durable at once, as LazyFS's is: creating, renaming,
// removing and truncating a file reach the directory below at once. A
// power cut loses data, never names.
//
// Mounting needs /dev/fuse and the right to mount (root, or
// CAP_SYS_ADMIN): [Available] says whether a test can, and why not. It
// builds on 64-bit Linux only: go-fuse does not build for 32-bit ARM or
// 386.
package powercut
