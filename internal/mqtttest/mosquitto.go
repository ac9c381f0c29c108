package mqtttest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// writeConfig writes mosquitto.conf for a listener on port; see the package
// documentation for what it contains and why.
func (b *Broker) writeConfig(port int) error {
	var c strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&c, format+"\n", args...) }
	line("# Written by internal/mqtttest for one test.")
	if os.Geteuid() == 0 {
		// As root, mosquitto would switch to the "mosquitto" user, which
		// cannot write to the test's temp dir.
		line("user root")
	}
	line("listener %d 127.0.0.1", port)
	if b.opts.TLS {
		line("cafile %s", b.CAFile)
		line("certfile %s", b.ServerCertFile)
		line("keyfile %s", b.ServerKeyFile)
		line("tls_version tlsv1.2")
	}
	if b.opts.RequireClientCert {
		line("require_certificate true")
		if b.CRLFile != "" {
			line("crlfile %s", b.CRLFile) // written by Revoke
		}
		line("use_identity_as_username true")
		line("allow_anonymous false")
	} else {
		line("allow_anonymous true")
	}
	if b.opts.Persistence {
		b.PersistenceFile = filepath.Join(b.Dir, "mosquitto.db")
		line("persistence true")
		// mosquitto 1.x joins location and file name without a separator.
		line("persistence_location %s/", b.Dir)
		line("persistence_file mosquitto.db")
		line("autosave_interval 1")
	} else {
		line("persistence false")
	}
	if b.opts.ACL != "" {
		acl := filepath.Join(b.Dir, "acl")
		if err := os.WriteFile(acl, []byte(b.opts.ACL+"\n"), 0o600); err != nil {
			return err
		}
		line("acl_file %s", acl)
	}
	if !b.opts.StockReceiveMaximum {
		line("max_inflight_messages 0")
	}
	line("max_queued_messages 1000000")
	line("set_tcp_nodelay true")
	line("log_dest file %s", b.LogFile)
	for _, typ := range []string{"error", "warning", "notice", "information"} {
		line("log_type %s", typ)
	}
	line("log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S")
	b.ConfigFile = filepath.Join(b.Dir, "mosquitto.conf")
	return os.WriteFile(b.ConfigFile, []byte(c.String()), 0o600)
}

// startMosquitto runs mosquitto with b.ConfigFile and waits until it has
// opened its listener and accepts connections. b.mu is held (or b is not
// shared yet).
func (b *Broker) startMosquitto() error {
	logOut, err := os.OpenFile(b.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// Only this run's lines are searched for "running".
	fi, err := logOut.Stat()
	if err != nil {
		logOut.Close()
		return err
	}
	logStart := fi.Size()

	cmd := exec.Command(b.bin, "-c", b.ConfigFile)
	cmd.Dir = b.Dir
	cmd.Stdin = nil
	cmd.Stdout = logOut
	cmd.Stderr = logOut
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	logOut.Close() // the child has its own copy
	if err != nil {
		return err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	// "mosquitto version X running" is logged once every listener is open;
	// a failed bind makes mosquitto exit instead. Waiting for it as well as
	// for a TCP connection makes sure the connection reached this process.
	for {
		log := readFrom(b.LogFile, logStart)
		if bytes.Contains(log, []byte(" running")) {
			break
		}
		select {
		case <-p.exited:
			log = readFrom(b.LogFile, logStart)
			err := fmt.Errorf("mosquitto exited during start-up (%v)", p.waitErr)
			if containsAddrInUse(log) {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return err
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("mosquitto did not report running within %v", startTimeout)
		}
	}
	if err := waitAccepting(b.addr, p.exited, deadline); err != nil {
		p.kill()
		return err
	}
	b.proc = p
	return nil
}

// readFrom returns the content of path from offset on ("" on error).
func readFrom(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	data, _ := io.ReadAll(f)
	return data
}

// process is a running mosquitto child.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait has returned
	waitErr error         // cmd.Wait's result, set before exited is closed
}

// stop sends SIGTERM and waits for the exit, sending SIGKILL after timeout.
func (p *process) stop(timeout time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.kill()
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// checkpoint sends SIGUSR1, on which mosquitto writes its persistence
// database, and waits until dbFile has been replaced by a new one (mosquitto
// writes a new file and renames it over the old one).
func (p *process) checkpoint(dbFile string) error {
	before, _ := os.Stat(dbFile)
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		after, err := os.Stat(dbFile)
		if err == nil && (before == nil || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime())) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not rewritten within %v after SIGUSR1", dbFile, startTimeout)
		}
		select {
		case <-p.exited:
			return errors.New("mosquitto exited")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
