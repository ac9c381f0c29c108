//go:build linux && (amd64 || arm64)

package powercut

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// RunWriter starts cmd, a process writing on the filesystem that prints a
// line "prefix n" each time a write of its has returned (n counting up);
// once it has printed one, and delay later, the power goes off
// (PowerOff) and cmd is killed. It returns the last n printed, which the
// cut must keep. Call PowerCut next.
func (p *Proc) RunWriter(cmd *exec.Cmd, prefix string, delay time.Duration) (last uint64, err error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	lines := make(chan uint64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), prefix+" "); ok {
				if v, err := strconv.ParseUint(n, 10, 64); err == nil {
					lines <- v
				}
			}
		}
	}()
	kill := func() {
		cmd.Process.Kill()
		for v := range lines { // printed before the kill
			last = v
		}
		cmd.Wait()
	}
	select {
	case v, ok := <-lines:
		if !ok {
			cmd.Wait()
			return 0, fmt.Errorf("powercut: the writer ended before its first write: %s", stderr.Bytes())
		}
		last = v
	case <-time.After(time.Minute):
		kill()
		return 0, fmt.Errorf("powercut: the writer wrote nothing within a minute: %s", stderr.Bytes())
	}
	for deadline := time.After(delay); ; {
		select {
		case v, ok := <-lines:
			if ok {
				last = v
				continue
			}
		case <-deadline:
		}
		break
	}
	err = p.PowerOff()
	kill()
	return last, err
}
