//go:build linux && (amd64 || arm64)

package powercut

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The filesystem is served by a process of its own, never by the process
// that uses it: a process that maps a file of its own FUSE mount deadlocks
// when the Go runtime stops the world (for a collection) while one of its
// threads waits on a page fault that another of its goroutines must serve.

// envServe, in a child's environment, makes Serve serve a filesystem:
// "back\ndir\nseed\nsyncDelay".
const envServe = "POWERCUT_SERVE"

// Serve serves the filesystem when this process was started by Start, and
// reports it, with the exit code; it reports false at once otherwise. Call
// it first in TestMain, exiting with the code when it served:
//
//	if code, served := powercut.Serve(); served {
//		os.Exit(code)
//	}
func Serve() (code int, served bool) {
	spec, ok := os.LookupEnv(envServe)
	if !ok {
		return 0, false
	}
	parts := strings.Split(spec, "\n")
	if len(parts) != 4 {
		fmt.Fprintf(os.Stderr, "powercut: %s=%q: want back, dir, seed and sync delay\n", envServe, spec)
		return 2, true
	}
	seed, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "powercut: seed:", err)
		return 2, true
	}
	delay, err := time.ParseDuration(parts[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "powercut: sync delay:", err)
		return 2, true
	}
	f, err := mountFS(parts[0], parts[1], seed, delay)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1, true
	}
	defer f.unmount()
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() { // ends when the parent closes stdin, or dies
		switch cmd := in.Text(); cmd {
		case "cut", "tear":
			dropped, torn, err := f.powerCut(cmd == "tear")
			if err != nil {
				fmt.Fprintln(os.Stderr, "powercut:", err)
				return 1, true
			}
			fmt.Println("cut", dropped, torn)
		case "off":
			f.powerOff()
			fmt.Println("off")
		case "unsynced":
			fmt.Println("unsynced", f.unsynced())
		default:
			fmt.Fprintf(os.Stderr, "powercut: unknown command %q\n", cmd)
			return 2, true
		}
	}
	return 0, true
}

// Proc is a filesystem mounted and served by a child process.
type Proc struct {
	dir string
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// Start mounts a filesystem over the directory back at dir, served by
// bin (the test binary, os.Args[0], whose TestMain calls Serve); seed
// seeds what tears; each fsync takes syncDelay, as an SD card's does,
// which widens the moments in which a cut finds data written and not
// synced. Close it when done.
func Start(bin, back, dir string, seed uint64, syncDelay time.Duration) (*Proc, error) {
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), envServe+"="+back+"\n"+dir+"\n"+strconv.FormatUint(seed, 10)+"\n"+syncDelay.String())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{dir: dir, cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if line, err := p.reply(); err != nil || line != "ready" {
		p.Close()
		return nil, fmt.Errorf("powercut: the server did not mount %s: %q, %v", dir, line, err)
	}
	return p, nil
}

// Dir is where the filesystem is mounted.
func (p *Proc) Dir() string { return p.dir }

// PowerOff turns the power off, as the moment of a cut: every write and
// fsync from now on fails and keeps nothing, so that the disk holds what
// it held at this moment, whatever the processes using the filesystem
// go on doing. Kill them, then call PowerCut.
func (p *Proc) PowerOff() error {
	if _, err := fmt.Fprintln(p.in, "off"); err != nil {
		return err
	}
	line, err := p.reply()
	if err == nil && line != "off" {
		err = fmt.Errorf("powercut: reply %q to off", line)
	}
	return err
}

// PowerCut cuts the power (turning it off first, if PowerOff did not):
// every process using the filesystem must be gone (killed) first. The data not fsynced is dropped, and with tear a
// random half of its pages written first, whole or by sectors; the
// filesystem is mounted again, with an empty page cache. It returns how
// many pages were dropped, and how many of them were written.
func (p *Proc) PowerCut(tear bool) (dropped, torn int, err error) {
	cmd := "cut"
	if tear {
		cmd = "tear"
	}
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		return 0, 0, err
	}
	line, err := p.reply()
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscanf(line, "cut %d %d", &dropped, &torn); err != nil {
		return 0, 0, fmt.Errorf("powercut: reply %q: %w", line, err)
	}
	return dropped, torn, nil
}

// Unsynced is how many pages of data wait for an fsync.
func (p *Proc) Unsynced() (int, error) {
	if _, err := fmt.Fprintln(p.in, "unsynced"); err != nil {
		return 0, err
	}
	line, err := p.reply()
	if err != nil {
		return 0, err
	}
	var n int
	_, err = fmt.Sscanf(line, "unsynced %d", &n)
	return n, err
}

func (p *Proc) reply() (string, error) {
	if !p.out.Scan() {
		return "", errors.Join(errors.New("powercut: the server ended"), p.out.Err())
	}
	return p.out.Text(), nil
}

// Close unmounts the filesystem and ends its server; the data not synced
// is dropped.
func (p *Proc) Close() error {
	p.in.Close()
	err := p.cmd.Wait()
	// A server that died leaves its mount behind, every access failing.
	if uerr := syscall.Unmount(p.dir, syscall.MNT_DETACH); uerr == nil && err == nil {
		err = errors.New("powercut: the server left its mount behind")
	}
	return err
}
