package mqtt_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"go.uber.org/goleak"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// envChild names, for the child process
// TestKilledAgentLeavesOfflineLastWill starts, the broker URL and the state
// directory, separated by a space.
const envChild = "MQTT_UPLINK_CHILD"

// TestMain runs the child's body instead of the tests when envChild is
// set, and otherwise the tests, failing if any leaves a goroutine behind.
func TestMain(m *testing.M) {
	if spec := os.Getenv(envChild); spec != "" {
		os.Exit(uplinkChild(spec))
	}
	goleak.VerifyTestMain(m)
}

// uplinkChild runs an uplink until the process is killed, printing
// "connected" once it is; it returns an exit code only when it fails.
func uplinkChild(spec string) int {
	broker, dir, _ := strings.Cut(spec, " ")
	box, err := outbox.Open(dir+"/outbox.db", outbox.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	up, err := mqtt.New(mqtt.Config{Settings: mqtt.Settings{Broker: broker}, DeviceID: device}, box, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go up.Run(context.Background())
	for !up.State().Connected {
		time.Sleep(10 * time.Millisecond)
	}
	os.Stdout.WriteString("connected\n")
	select {} // until killed
}

func TestKilledAgentLeavesOfflineLastWill(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	sub := b.Subscribe(t, topics.Status, 1)
	cmd := startUplinkChild(t, b.URL(), t.TempDir())
	checkStatus(t, sub.WaitFor(t, 1, 10*time.Second), contracts.DeviceOnline)
	killChild(t, cmd)
	msgs := sub.WaitFor(t, 2, 30*time.Second)
	checkStatus(t, msgs, contracts.DeviceOffline)
	if !msgs[len(msgs)-1].Retain {
		t.Error("the Last Will is not retained; a subscriber coming later would not see the gateway offline")
	}
}

// startUplinkChild runs an uplink on the outbox in dir, against broker, in
// a child process, and returns once the child says it is connected. The
// test's cleanup kills the child, if the test did not, and reaps it.
func startUplinkChild(t *testing.T, broker, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envChild+"="+broker+" "+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "connected\n" {
		cmd.Process.Kill()
		t.Fatalf("child said %q, %v; want connected", line, err)
	}
	return cmd
}

// killChild kills the child with SIGKILL: it sends no DISCONNECT, so the
// broker publishes its Last Will.
func killChild(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
}
