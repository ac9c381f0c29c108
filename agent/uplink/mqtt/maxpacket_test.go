package mqtt_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// A command of 10 MB published to the commands topic is never sent to the
// uplink: its CONNECT asks for a Maximum Packet Size, and the broker drops
// the message for it (MQTT v5 §3.1.2.11.4). The connection carries next
// to nothing of it, and the command after it arrives.
func TestOversizedCommandIsNeverSent(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	rl := startRelay(t, b.Addr(), false)
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Settings: mqtt.Settings{Broker: "mqtt://" + rl.addr()}})
	b.Subscribe(t, topics.Status, 1).WaitFor(t, 1, 10*time.Second) // online: subscribed

	const size = 10 << 20
	before := rl.down.Load()
	b.Publish(t, topics.Commands, bytes.Repeat([]byte("x"), size), 1, false, nil)
	b.Publish(t, topics.Commands, []byte(`{"after":"the oversized command"}`), 1, false, nil)
	waitUntil(t, "the command after the oversized one", func() bool { return len(r.received()) >= 1 })

	sent := rl.down.Load() - before
	t.Logf("the broker sent the uplink %d bytes for a command of %d and one of 34", sent, size)
	if sent > 64<<10 {
		t.Errorf("the broker sent the uplink %d bytes; want the small command's few", sent)
	}
	for _, c := range r.received() {
		if len(c.Payload) > mqtt.DefaultMaxCommandBytes {
			t.Errorf("the uplink received a command of %d bytes; want it dropped by the broker", len(c.Payload))
		}
	}
	if !b.Embedded() {
		drop := "Dropping too large outgoing PUBLISH for " + device
		if log, _ := os.ReadFile(b.LogFile); !bytes.Contains(log, []byte(drop)) {
			t.Errorf("mosquitto's log has no %q", drop)
		}
	}
}

// A command of exactly MaxCommandBytes arrives with its properties at
// their largest: a Response Topic, Correlation Data and a Content Type of
// 65,535 bytes each, and 64 KiB of user properties. The Maximum Packet
// Size leaves room for them.
func TestCommandAtTheLimitArrivesWithItsProperties(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	r := startUplink(t, b, t.TempDir(), mqtt.Config{})
	b.Subscribe(t, topics.Status, 1).WaitFor(t, 1, 10*time.Second) // online: subscribed

	props := &mqtttest.Properties{
		ResponseTopic:   strings.Repeat("r", 65535),
		CorrelationData: bytes.Repeat([]byte("c"), 65535),
		ContentType:     strings.Repeat("t", 65535),
	}
	// Four user properties of 16 KiB each, identifier and lengths included.
	for i := range 4 {
		props.User = append(props.User, mqtttest.UserProperty{Key: fmt.Sprint(i), Value: strings.Repeat("u", 16<<10-6)})
	}
	payload := bytes.Repeat([]byte("p"), mqtt.DefaultMaxCommandBytes)
	b.Publish(t, topics.Commands, payload, 1, false, props)
	waitUntil(t, "the command", func() bool { return len(r.received()) >= 1 })
	c := r.received()[0]
	if !bytes.Equal(c.Payload, payload) || c.ResponseTopic != props.ResponseTopic || !bytes.Equal(c.CorrelationData, props.CorrelationData) {
		t.Errorf("received a command of %d bytes with a Response Topic of %d and Correlation Data of %d; want %d, 65535 and 65535",
			len(c.Payload), len(c.ResponseTopic), len(c.CorrelationData), len(payload))
	}
}

// A broker that ignores the Maximum Packet Size (here mosquitto behind a
// relay that takes it out of the CONNECT) sends a command of 10 MB: the
// uplink reads no more of it than the handler needs to refuse it, and
// tells its size as sent. The command after it comes whole.
func TestCommandTooLargeIsCutWhenTheBrokerIgnoresTheLimit(t *testing.T) {
	pub := mqtttest.LookClient(t, "mosquitto_pub")
	b := mqtttest.Start(t, mqtttest.Options{})
	rl := startRelay(t, b.Addr(), true)
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Settings: mqtt.Settings{Broker: "mqtt://" + rl.addr()}})
	b.Subscribe(t, topics.Status, 1).WaitFor(t, 1, 10*time.Second) // online: subscribed

	// mosquitto_pub, another process, publishes it: the heap measured
	// here is the uplink's (and the relay's).
	const size = 10 << 20
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), size), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(b.Addr())
	before, sentBefore := heapAllocs(), rl.down.Load()
	if out, err := exec.Command(pub, "-V", "5", "-h", "127.0.0.1", "-p", port, "-q", "1", "-t", topics.Commands, "-f", big).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	b.Publish(t, topics.Commands, []byte(`{"after":"the oversized command"}`), 1, false, nil)
	waitUntil(t, "the oversized command and the next", func() bool { return len(r.received()) >= 2 })
	allocated, sent := heapAllocs()-before, rl.down.Load()-sentBefore

	t.Logf("the broker sent %d bytes; the test process allocated %d bytes meanwhile", sent, allocated)
	if sent < size {
		t.Fatalf("the broker sent the uplink %d bytes; want the %d of the command: the relay did not make it ignore the limit", sent, size)
	}
	got := r.received()
	if c := got[0]; len(c.Payload) != mqtt.DefaultMaxCommandBytes+1 || c.Size != size || c.Payload[0] != 'x' {
		t.Errorf("the oversized command came as %d bytes, of %d; want its first %d, of %d", len(c.Payload), c.Size, mqtt.DefaultMaxCommandBytes+1, size)
	}
	if c := got[1]; string(c.Payload) != `{"after":"the oversized command"}` || c.Size != len(c.Payload) {
		t.Errorf("the next command came as %q, size %d; want it whole", c.Payload, c.Size)
	}
	if allocated > 8<<20 {
		t.Errorf("the test process allocated %d bytes while the uplink read a command of %d; want under 8 MiB", allocated, size)
	}
}

// heapAllocs is the bytes allocated on the heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// relay passes TCP connections on to a broker and counts the bytes the
// broker sends back: what the uplink's connection reads. With
// stripMaxPacket it takes the Maximum Packet Size out of each CONNECT,
// as if the broker ignored it.
type relay struct {
	ln             net.Listener
	target         string
	stripMaxPacket bool
	down           atomic.Int64

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// startRelay listens on a free loopback port and relays to target until
// the test ends.
func startRelay(t *testing.T, target string, stripMaxPacket bool) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := &relay{ln: ln, target: target, stripMaxPacket: stripMaxPacket}
	rl.wg.Go(rl.accept)
	t.Cleanup(func() {
		ln.Close()
		rl.mu.Lock()
		for _, c := range rl.conns {
			c.Close()
		}
		rl.mu.Unlock()
		rl.wg.Wait()
	})
	return rl
}

func (rl *relay) addr() string { return rl.ln.Addr().String() }

// drop closes every connection relayed so far, as a network that fails
// would: the broker sees the client's connection end without a
// DISCONNECT.
func (rl *relay) drop() {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for _, c := range rl.conns {
		c.Close()
	}
	rl.conns = nil
}

func (rl *relay) accept() {
	for {
		client, err := rl.ln.Accept()
		if err != nil {
			return
		}
		broker, err := net.Dial("tcp", rl.target)
		if err != nil {
			client.Close()
			continue
		}
		rl.mu.Lock()
		rl.conns = append(rl.conns, client, broker)
		rl.mu.Unlock()
		rl.wg.Go(func() {
			if rl.stripMaxPacket && stripMaxPacket(broker, client) != nil {
				client.Close()
				return
			}
			pipe(broker, client, nil)
		})
		rl.wg.Go(func() { pipe(client, broker, &rl.down) })
	}
}

// stripMaxPacket reads the CONNECT from src and writes it to dst without
// its Maximum Packet Size. paho reads no more than the packet.
func stripMaxPacket(dst, src net.Conn) error {
	cp, err := packets.ReadPacket(src)
	if err != nil {
		return err
	}
	if c, ok := cp.Content.(*packets.Connect); ok {
		c.Properties.MaximumPacketSize = nil
	}
	_, err = cp.WriteTo(dst)
	return err
}

// pipe copies from src to dst, counting into n when not nil, and closes
// both when src ends.
func pipe(dst, src net.Conn, n *atomic.Int64) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if n != nil {
			n.Add(int64(k))
		}
		if _, werr := dst.Write(buf[:k]); werr != nil {
			return
		}
		if err != nil {
			return
		}
	}
}
